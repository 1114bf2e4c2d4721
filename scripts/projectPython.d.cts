/** The interpreter's path (not checked; see `projectPython`). */
export declare function projectPythonPath(): string;
/** The project's Python (LILY_PYTHON, else $LILY_VENV or .venv); throws, naming scripts/setup-python.sh, when it is missing. */
export declare function projectPython(): string;
export declare const ROOT: string;
