#!/usr/bin/env python3
"""Draws the app icons (public/icons/*.png) with nothing but the standard
library: a case folder on the brand colour. Run it again after changing it."""
import pathlib
import struct
import zlib

BRAND = (0x1D, 0x4F, 0x73)
PAPER = (0xFF, 0xFF, 0xFF)
TAB = (0xF2, 0xB6, 0x3D)
OUT = pathlib.Path(__file__).resolve().parent.parent / "public" / "icons"


def png(path, size, pixel):
    rows = bytearray()
    for y in range(size):
        rows.append(0)
        for x in range(size):
            rows.extend(pixel(x / size, y / size))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    path.write_bytes(data)


def rounded(x, y, x0, y0, x1, y1, r):
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def folder(scale):
    """A folder centred in the unit square, `scale` of its width."""
    def at(x, y):
        # Map into the folder's own box.
        u = (x - 0.5) / scale + 0.5
        v = (y - 0.5) / scale + 0.5
        if rounded(u, v, 0.05, 0.12, 0.45, 0.35, 0.05):
            return TAB
        if rounded(u, v, 0.05, 0.22, 0.95, 0.88, 0.06):
            # Two ruled lines, like a case sheet.
            if 0.15 <= u <= 0.85 and (0.46 <= v <= 0.52 or 0.62 <= v <= 0.68):
                return BRAND
            return PAPER
        return None
    return at


def icon(scale, corner):
    shape = folder(scale)
    def pixel(x, y):
        if corner and not rounded(x, y, 0, 0, 1, 1, corner):
            return BRAND  # PNG without alpha: corners in the brand colour too
        return shape(x, y) or BRAND
    return pixel


OUT.mkdir(parents=True, exist_ok=True)
png(OUT / "icon-192.png", 192, icon(0.62, 0))
png(OUT / "icon-512.png", 512, icon(0.62, 0))
# Maskable: the folder stays inside the 80 % safe circle.
png(OUT / "maskable-512.png", 512, icon(0.5, 0))
print("icons written to", OUT)
