"""Command line of the torch backend's trainer (what `lily train --backend torch` launches):
    lily_train.py --run-dir DIR [--resume CHECKPOINT_DIR]
The run directory already holds config.json (the resolved config) and dataset.json (naming the tokenized data),
both written by the TypeScript side. Exit codes as the lily CLI: 0 completed, 1 failed, 2 invalid
input, 130 stopped."""
import argparse
import sys
import traceback

from .errors import InputError


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="lily_train.py", description="Lily torch backend trainer")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", default=None, help="checkpoint folder to continue from")
    args = parser.parse_args(argv)
    try:
        from .trainer import train

        return train(args.run_dir, args.resume)
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return 1
