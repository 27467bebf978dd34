"""Device contexts: running sessions on other devices through ``plainbox agent``.

* :mod:`~plainbox.remote.protocol`: the newline-delimited JSON messages.
* :mod:`~plainbox.remote.runner`: the detached process that runs a device's
  session and serves it on a private unix socket.
* :mod:`~plainbox.remote.agent`: ``plainbox agent --stdio``, the per-connection
  relay between a transport's stdin/stdout and the runner.
* :mod:`~plainbox.remote.transport`: how the agent is reached (``local``,
  ``ssh``, or a plugin's ``plainbox_transports``).
* :mod:`~plainbox.remote.controller`: drives several devices at once and
  mirrors their journals into one controller session.
"""
