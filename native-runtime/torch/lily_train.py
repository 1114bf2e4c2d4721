# The torch backend's entry script: `lily train --backend torch` launches it directly (one
# process), under torchrun (runtime.processes > 1), or through runtime.launch (`{script}`).
# It only puts its own folder on sys.path so the package beside it imports without installing.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lily_torch.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
