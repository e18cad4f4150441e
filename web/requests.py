"""The request class: uploaded files land in an UploadSpool, hashed as they arrive."""

from functools import partial

from flask import Request, g
from flask_login import current_user
from werkzeug.formparser import FormDataParser

from vault.objects import ObjectUpload
from vault.uploads import UploadSpool
from web.runtime import runtime

BODY_READ_SIZE = 1 << 20
# Set on `g` once the caller is authenticated (bearer token or signed-in page).
SIGNED_IN = "vault_signed_in"


class VaultRequest(Request):
    """Flask's request, with file parts written once into an unnamed spool."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        vault = runtime()
        spool = UploadSpool(vault.settings.max_upload_bytes)
        if g.get(SIGNED_IN) or current_user.is_authenticated:
            # Only for a caller already known: the store starts on the bytes
            # while the rest of the body arrives.
            spool.stream_into(partial(ObjectUpload, vault))
        self.__dict__.setdefault("_upload_spools", []).append(spool)
        return spool

    def close(self) -> None:
        """Close every spool this request made, also those of a body broken off
        mid-part that the form parser dropped: their store writes are abandoned
        and their temporary files go."""
        try:
            super().close()
        finally:
            for spool in self.__dict__.pop("_upload_spools", []):
                spool.close()

    def make_form_data_parser(self) -> FormDataParser:
        # The body is read in pieces of this size: werkzeug's 64 KiB costs a
        # large upload thousands more trips through the server's reader.
        parser = super().make_form_data_parser()
        parser.buffer_size = BODY_READ_SIZE
        return parser
