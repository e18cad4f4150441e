"""The request class: uploaded files land in an UploadSpool, hashed as they arrive."""

from flask import Request

from vault.uploads import UploadSpool
from web.runtime import runtime


class VaultRequest(Request):
    """Flask's request, with file parts written once into an unnamed spool."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return UploadSpool(runtime().settings.max_upload_bytes)
