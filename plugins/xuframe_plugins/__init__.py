"""xuframe's built-in plugins, one package per method.

Each is registered through the ``xuframe`` entry-point group exactly as a third-party plugin
would be; the core never imports them.
"""
