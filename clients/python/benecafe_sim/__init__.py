"""The benecafe welfare-mall simulator for a partner's own tests.

Why this exists: a partner's Python tests get a simulator (``Simulator.start()`` from the binary
this wheel carries, or ``Simulator.connect(url)``) and a sandbox of their own per test
(``sim.sandbox()``), with the calls a test needs: a GATE, the cert call over verified HTTPS,
the journal, faults. The pytest plugin (``benecafe_sim.pytest_plugin``) gives the same as the
fixtures ``benecafe_sim`` and ``sim_sandbox``.
"""

from .sandbox import Sandbox, SimError
from .simulator import Simulator, find_binary

__all__ = ["Simulator", "Sandbox", "SimError", "find_binary"]
