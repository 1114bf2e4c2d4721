"""Runs several lily_ref.py jobs in ONE Python process (torch starts once, not once per job).

    .venv/bin/python test/parity/run_jobs.py JOBS.json OUT.json

JOBS.json is a list of job file paths; OUT.json receives the list of results, in order.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "oracle"))

import torch  # noqa: E402

from lily_ref import run_job  # noqa: E402


def main():
    jobs_path, out_path = sys.argv[1], sys.argv[2]
    with open(jobs_path) as f:
        jobs = json.load(f)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    results = []
    for job_path in jobs:
        with open(job_path) as f:
            job = json.load(f)
        results.append(run_job(job, os.path.dirname(os.path.abspath(job_path))))
    with open(out_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
