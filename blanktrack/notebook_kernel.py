"""The kernel of a period run: `python -m blanktrack.notebook_kernel -f CONNECTION_FILE`.

ipykernel as `ipykernel_launcher` starts it, but without its debugger: importing debugpy costs
time at every run's start, and nobody attaches a debugger to an unattended run (a notebook
opened in JupyterLab gets the usual kernel, debugger and all).
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # As ipykernel_launcher: the cwd off sys.path while loading (IPython puts it back).
    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():
        del sys.path[0]
    sys.modules.setdefault("debugpy", None)  # type: ignore[arg-type]  # ipykernel: no debugger

    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
