"""Names and paths the host launcher and the guest agent agree on.

Plain constants with no imports, so that the host's hot path (`crossbox run`
on a running container) can use them without loading anything else.
"""

CONTRACT_VERSION = "2"

# Paths inside the container.
HOST_ROOT = "/run/host"  # the host's / (read-only, rslave)
RUN_DIR = "/run/crossbox"
PYTHON_DIR = f"{RUN_DIR}/python"  # the host interpreter's prefix (read-only)
LIB_DIR = f"{RUN_DIR}/lib"  # holds crossbox/guest and crossbox/shared (read-only)
EMULATOR_DIR = f"{RUN_DIR}/bin"  # the static qemu (read-only)
STATE_DIR = f"{RUN_DIR}/state"  # per-container host directory (read-write)
MARKER = "/run/.crossboxenv"
PRELOAD_FILE = "/etc/ld.so.preload"  # masked while the agent starts (the host loader reads it)
SESSION_VAR = "CROSSBOX_SESSION"  # set on each run/enter session, so that its processes can be found
TOOLBOX_MARKER = "/run/.toolboxenv"  # lets toolbox images' profile scripts know

# Files in the state directory.
READY_FIFO = "ready"  # the agent writes one status line here
CONTROL_FIFO = "control"  # the host asks the agent to signal a session's processes here
ALIVE_LOCK = "alive"  # the agent holds a shared flock on it while ready
START_LOCK = "start.lock"  # host-side: one starter at a time

READY_OK = "ready"
READY_ERROR = "error"

# Labels on containers.
LABEL_PREFIX = "dev.crossbox"
LABEL_CONTAINER = f"{LABEL_PREFIX}.container"  # "true"
LABEL_ARCH = f"{LABEL_PREFIX}.arch"  # OCI architecture, also for native containers
LABEL_CONTRACT = f"{LABEL_PREFIX}.contract"
LABEL_IMAGE = f"{LABEL_PREFIX}.image"  # the remote reference asked for
LABEL_USER = f"{LABEL_PREFIX}.user"  # the user the container was made for
LABEL_NATIVE_TOOLS = f"{LABEL_PREFIX}.native-tools"  # "true" for a box made with --native-tools

MODE_INIT = "init"
MODE_ONESHOT = "oneshot"

# Python code the host passes with -c; the guest package is importable from LIB_DIR.
BOOT_CODE = (
    f"import sys;sys.path.insert(0,{LIB_DIR!r});"
    "from crossbox.guest.main import main;sys.exit(main(sys.argv[1:]))"
)
