"""The file inventory: a folder tree of PEM certificates and their keys.

Layout, per certificate (NAME may contain dots, e.g. ``www.example.com``)::

    shop/www.example.com.crt              the certificate (or .pem), leaf first,
                                          optionally followed by its chain
    shop/www.example.com.key              its private key, unencrypted, 0600
    shop/www.example.com.certrenew.toml   optional [order], [policy], [labels]
    shop/www.example.com.key.pending      the next key, while a renewal runs
    shop/www.example.com.crt.previous     the pair replaced by the last renewal
    shop/chain.pem                        chain files: recognised, never leaves

The entry's name is the path below the root without the suffix
(``shop/www.example.com``). Hidden files are ignored: they are our own
temporary files, or editors'.
"""

from certrenew.inventory.files.source import MAX_FILE_BYTES, FileSource

__all__ = ["MAX_FILE_BYTES", "FileSource"]
