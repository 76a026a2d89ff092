"""gen_ws_seeds.py - writes the seed corpora of fuzz_ws_client and fuzz_ws_server
(tests/fuzz/corpus/ws_client, ws_server): RFC 6455 examples, fragments with control frames
between them, close frames, and one of each frame the parser must refuse. Each file starts
with the two bytes fuzz_ws.h reads as flags and chunking seed. Run from anywhere."""
import os, struct
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
def frame(fin, op, payload, mask=None, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n <= 125: h = bytes([b0, mbit | n])
    elif n <= 0xffff: h = bytes([b0, mbit | 126]) + struct.pack('>H', n)
    else: h = bytes([b0, mbit | 127]) + struct.pack('>Q', n)
    if mask is not None:
        h += bytes(mask)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return h + payload
def close(code, reason=b''):
    return struct.pack('>H', code) + reason
streams = {
  'rfc_hello': [(1, 1, b'Hello')],
  'rfc_fragmented': [(0, 1, b'Hel'), (1, 0, b'lo')],
  'rfc_ping': [(1, 9, b'Hello')],
  'rfc_pong': [(1, 10, b'Hello')],
  'binary_256': [(1, 2, bytes(range(256)))],
  'interleaved_controls': [(0, 1, b'The quick '), (1, 9, b'ping?'), (0, 0, b'brown \xe2\x82'), (1, 10, b''), (1, 0, b'\xac fox'), (1, 8, close(1000, b'bye'))],
  'utf8_split_fragments': [(0, 1, b'a\xf0\x9f'), (0, 0, b'\x98'), (1, 0, b'\x80z')],
  'many_messages': [(1, 1, b'one'), (1, 2, b'\x00\x01'), (1, 1, b''), (1, 9, b''), (1, 1, b'\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5')],
  'close_reason': [(1, 8, close(4000, 'é'.encode() * 61))],
  'close_empty': [(1, 8, b'')],
  'close_then_data': [(1, 8, close(1001)), (1, 1, b'late')],
  'bad_utf8': [(1, 1, b'\xc3\x28')],
  'bad_close_code': [(1, 8, close(1005))],
  'bad_close_reason': [(1, 8, close(1000, b'\xc3\x28'))],
  'data_inside_fragmented': [(0, 1, b'a'), (1, 9, b''), (1, 2, b'b')],
  'close_one_byte': [(1, 8, b'\x03')],
  'big_16bit': [(1, 2, b'x' * 1000)],
  'fragments_over_small_limit': [(0, 2, b'a' * 300), (0, 0, b'b' * 300), (0, 0, b'c' * 300), (1, 0, b'd' * 300)],
}
# Frames the encoder above will not write: (flags, first byte, second byte without MASK,
# extended length, payload). The server role gets them masked so the length checks are reached.
raw = {
  'len_2_63': (0, 0x82, 127, bytes([0x80, 0, 0, 0, 0, 0, 0, 0]), b''),
  'len_2_62': (0, 0x82, 127, bytes([0x40, 0, 0, 0, 0, 0, 0, 0]), b'0123456789'),
  'non_minimal_16': (0, 0x82, 126, bytes([0x00, 0x05]), b'abcde'),
  'non_minimal_64': (0, 0x82, 127, bytes([0, 0, 0, 0, 0, 0, 0xff, 0xff]), b''),
  'reserved_opcode': (0, 0x83, 0, b'', b''),
  'rsv_bits': (0, 0xf1, 0, b'', b''),
  'fragmented_ping': (0, 0x09, 0, b'', b''),
  'long_ping': (0, 0x89, 126, bytes([0x00, 0x7e]), b'p' * 126),
  'lone_continuation': (0, 0x80, 1, b'', b'a'),
  'rsv1_on_ping': (1, 0xc9, 0, b'', b''),
}
key = [0x37, 0xfa, 0x21, 0x3d]
for role in ('ws_client', 'ws_server'):
    d = os.path.join(root, role); os.makedirs(d, exist_ok=True)
    m = key if role == 'ws_server' else None
    for i, (name, frames) in enumerate(streams.items()):
        flags = 2 if 'small_limit' in name else (i * 4) & 0xfc
        data = b''.join(frame(f, o, p, m) for f, o, p in frames)
        open(os.path.join(d, name), 'wb').write(bytes([flags, i * 37 & 0xff]) + data)
    # permessage-deflate: "Hello" compressed, whole and in two fragments (flag bit 0)
    z = bytes.fromhex('f248cdc9c90700')
    open(os.path.join(d, 'deflate'), 'wb').write(bytes([1, 7]) + frame(1, 1, z, m, 0x40) +
        frame(0, 2, z[:3], m, 0x40) + frame(1, 0, z[3:], m))
    for name, (flags, b0, b1, ext, payload) in raw.items():
        data = bytes([b0, b1 | (0x80 if m else 0)]) + ext + (bytes(m) if m else b'')
        data += bytes(c ^ m[i % 4] for i, c in enumerate(payload)) if m else payload
        open(os.path.join(d, name), 'wb').write(bytes([flags, 99]) + data)
    # the wrong side's masking, to reach the role check with a valid frame behind it
    other = None if m else key
    open(os.path.join(d, 'wrong_masking'), 'wb').write(bytes([0, 5]) + frame(1, 1, b'Hello', other))
print('ok')
