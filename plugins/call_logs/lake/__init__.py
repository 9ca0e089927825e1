"""The lake's plain-Python building blocks: rows to Arrow (``convert``, ``fast_decode``), a day prepared with flat
memory (``prepare``), its manifest, where tables live (``root``, ``layout``, ``delta_storage``), atomic file
publication (``storage``), Delta I/O (``delta_table``), pseudonymisation and the lake's errors."""
