"""Input the torch backend cannot use. The entry point prints the message and exits 2, the CLI's
code for invalid input; the message names the file and the field, like the TypeScript side."""


class InputError(Exception):
    def __init__(self, file: str, field: str, message: str):
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")
        self.file = file
        self.field = field
