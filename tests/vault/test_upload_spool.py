"""The upload spool feeding a store write while the body is still arriving."""

import os
import threading

import pytest

from vault.uploads import UploadSpool, UploadTooLarge


class Collected:
    """A stand-in store write: reads the follower to the end on a thread."""

    def __init__(self, follower):
        self.data = bytearray()
        self.error = None
        self.discarded = False
        self.thread = threading.Thread(target=self._read, args=(follower,))
        self.thread.start()

    def _read(self, follower):
        try:
            while block := follower.read(1 << 16):
                self.data += block
        except OSError as error:
            self.error = error
        finally:
            follower.close()

    def discard(self):
        self.thread.join(5)
        self.discarded = True


def test_the_follower_reads_what_lands_and_ends_when_claimed():
    spool = UploadSpool(limit=10 << 20)
    started = []
    spool.stream_into(lambda follower: started.append(Collected(follower))
                      or started[-1])
    chunks = [os.urandom(300_000) for _ in range(5)]
    for chunk in chunks:
        spool.write(chunk)

    write = spool.claim_store_write()
    write.thread.join(5)
    assert not write.thread.is_alive() and write.error is None
    assert bytes(write.data) == b"".join(chunks)
    assert len(started) == 1 and spool.size == sum(map(len, chunks))
    spool.close()
    assert not write.discarded  # claimed: the caller owns it now


def test_a_spool_closed_unclaimed_abandons_its_write():
    spool = UploadSpool(limit=10 << 20)
    writes = []
    spool.stream_into(lambda follower: writes.append(Collected(follower)) or writes[-1])
    spool.write(b"%PDF-1.7 first part")

    spool.close()

    [write] = writes
    assert write.discarded and isinstance(write.error, OSError)


def test_going_over_the_limit_abandons_the_write():
    spool = UploadSpool(limit=1000)
    writes = []
    spool.stream_into(lambda follower: writes.append(Collected(follower)) or writes[-1])
    spool.write(b"x" * 600)
    with pytest.raises(UploadTooLarge):
        spool.write(b"x" * 600)
    [write] = writes
    assert write.discarded and isinstance(write.error, OSError)


def test_without_a_store_write_the_spool_is_a_plain_file():
    spool = UploadSpool(limit=100)
    spool.write(b"abc")
    assert spool.claim_store_write() is None
    spool.seek(0)
    assert spool.read() == b"abc" and spool.size == 3
    spool.close()
