"""The request class: uploaded files land in an UploadSpool, hashed as they arrive."""

from flask import Request
from werkzeug.formparser import FormDataParser

from vault.uploads import UploadSpool
from web.runtime import runtime

BODY_READ_SIZE = 1 << 20


class VaultRequest(Request):
    """Flask's request, with file parts written once into an unnamed spool."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return UploadSpool(runtime().settings.max_upload_bytes)

    def make_form_data_parser(self) -> FormDataParser:
        # The body is read in pieces of this size: werkzeug's 64 KiB costs a
        # large upload thousands more trips through the server's reader.
        parser = super().make_form_data_parser()
        parser.buffer_size = BODY_READ_SIZE
        return parser
