#!/usr/bin/env python3
"""make_seeds.py: writes the binary seed inputs of the protobuf fuzz targets
(corpus/fuzz_bridge_edge_msg, corpus/fuzz_edge_bridge_msg) and the RESP seeds
(corpus/fuzz_redis_reply): one small valid message of each kind, encoded by
hand (protobuf wire format: varint keys, length-delimited fields) so no
protobuf tooling is needed. Field numbers follow proto/switchboard.proto.
Run it again after changing the .proto; the text seeds of the other targets
are plain files written by hand."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def f_int(num, v):
    return varint(num << 3) + varint(v)


def f_bytes(num, v):
    if isinstance(v, str):
        v = v.encode()
    return varint((num << 3) | 2) + varint(len(v)) + v


def envelope(channel='ch', event='ev', data='{"a":1}', app='app1', excl='', user=''):
    m = f_bytes(1, 'hostB') + f_int(2, 7) + f_bytes(3, app) + f_bytes(4, channel) + f_bytes(5, event) + f_bytes(6, data)
    if excl:
        m += f_bytes(7, excl)
    if user:
        m += f_bytes(8, user)
    return m


def interest(ch, add=True, app='app1', seq=0):
    m = f_bytes(1, app) + f_bytes(2, ch) + f_int(3, 1 if add else 0)
    return m + f_int(4, seq) if seq else m


EDGE_MSGS = {
    'hello': f_bytes(1, f_int(1, 4242) + f_bytes(2, '777') + f_bytes(3, '127.0.0.1:6001') + f_int(4, 2)
                     + f_bytes(5, 'app1') + f_bytes(6, 'ipc:///nonexistent/edge-777.ipc')),
    # webhook report (webhooks_reported = 7, AppWebhooks = 8): app1 wants
    # channel_occupied|vacated, app2 member_added; a bad id, a repeat
    'hello_webhooks': f_bytes(1, f_int(1, 4242) + f_bytes(2, '778') + f_int(4, 1) + f_bytes(5, 'app1')
                              + f_bytes(5, 'app2') + f_bytes(6, 'ipc:///nonexistent/edge-778.ipc') + f_int(7, 1)
                              + f_bytes(8, f_bytes(1, 'app1') + f_int(2, 3)) + f_bytes(8, f_bytes(1, 'app2') + f_int(2, 4))
                              + f_bytes(8, f_bytes(1, 'bad app') + f_int(2, 1)) + f_bytes(8, f_bytes(1, 'app1') + f_int(2, 32))),
    # reported, no app has webhooks: every event is skipped
    'hello_no_webhooks': f_bytes(1, f_int(1, 4242) + f_bytes(2, '779') + f_int(4, 1) + f_bytes(5, 'app1')
                                 + f_bytes(6, 'ipc:///nonexistent/edge-779.ipc') + f_int(7, 1)),
    'interest_add': f_bytes(2, interest('ch')),
    'interest_remove': f_bytes(2, interest('ch', add=False)),
    'interest_add_seq': f_bytes(2, interest('ch', seq=7)),
    'sync_seq': f_bytes(3, f_bytes(1, interest('a', seq=8)) + f_bytes(1, interest('cache-c', seq=9))),
    'sync': f_bytes(3, f_bytes(1, interest('a')) + f_bytes(1, interest('presence-p')) + f_bytes(1, interest('cache-c'))),
    'publish': f_bytes(4, f_int(1, 9) + f_bytes(2, envelope()) + f_bytes(2, envelope('cache-c'))),
    'publish_client_event': f_bytes(4, f_int(1, 10) + f_bytes(2, envelope('private-x', 'client-e', excl='1.2')) + f_int(3, 1)),
    'stats': f_bytes(5, f_int(1, 3) + f_int(2, 2) + f_int(3, 100) + f_int(4, 90) + f_int(6, 5000)
                     + f_bytes(7, f_bytes(1, 'app1') + f_int(2, 3)) + f_int(8, 4242)),
    'presence_join': f_bytes(6, f_int(1, 11) + f_bytes(2, 'app1') + f_bytes(3, 'presence-p') + f_bytes(4, 'u1')
                             + f_bytes(5, '{"name":"x"}') + f_bytes(6, '1.2') + f_int(7, 100)),
    'presence_leave': f_bytes(7, f_bytes(1, 'app1') + f_bytes(2, 'presence-p') + f_bytes(3, 'u1') + f_bytes(4, '1.2')),
    'counts': f_bytes(8, f_bytes(1, f_bytes(1, 'app1') + f_bytes(2, 'ch') + f_int(3, 2))
                      + f_bytes(1, f_bytes(1, 'app1') + f_bytes(2, 'ch2') + f_int(3, 0))),
    'query_channels': f_bytes(9, f_int(1, 12) + f_bytes(2, 'app1') + f_int(3, 0) + f_bytes(5, 'presence-') + f_int(6, 1)),
    'query_channel': f_bytes(9, f_int(1, 13) + f_bytes(2, 'app1') + f_int(3, 1) + f_bytes(4, 'ch') + f_int(7, 1) + f_int(8, 1)),
    'query_users': f_bytes(9, f_int(1, 14) + f_bytes(2, 'app1') + f_int(3, 2) + f_bytes(4, 'presence-p')),
    'query_info': f_bytes(9, f_int(1, 15) + f_bytes(2, 'app1') + f_int(3, 3) + f_bytes(4, 'ch') + f_bytes(4, 'presence-p') + f_int(6, 1) + f_int(7, 1)),
    'cache_get': f_bytes(10, f_int(1, 16) + f_bytes(2, 'app1') + f_bytes(3, 'cache-c')),
    'terminate': f_bytes(11, f_bytes(1, 'app1') + f_bytes(2, 'u1')),
}

BRIDGE_MSGS = {
    'welcome': f_bytes(1, f_bytes(1, 'hostA') + f_int(2, 2)),
    'welcome_v1': f_bytes(1, f_bytes(1, 'hostA') + f_int(2, 1)),
    'ready': f_bytes(14, f_bytes(1, 'app1') + f_bytes(2, 'ch') + f_int(3, 1)),
    'ready_cache': f_bytes(14, f_bytes(1, 'app1') + f_bytes(2, 'cache-ch') + f_int(3, 2)),
    'ready_stale': f_bytes(14, f_bytes(1, 'app1') + f_bytes(2, 'ch') + f_int(3, 99)),
    'deliver': f_bytes(2, envelope()),
    'deliver_cache': f_bytes(2, envelope('cache-ch')),
    'deliver_excluded': f_bytes(2, envelope(excl='12345.1')),
    'ack': f_bytes(3, f_int(1, 1) + f_int(2, 1)),
    'ack_error': f_bytes(3, f_int(1, 1) + f_bytes(3, 'Redis is down')),
    'presence_joined': f_bytes(4, f_int(1, 1) + f_int(2, 1) + f_bytes(4, '{"u1":{"name":"x"}}')),
    'query_result': f_bytes(5, f_int(1, 1) + f_int(2, 1) + f_int(4, 200) + f_bytes(5, '{"channels":{}}')),
    'cache_result': f_bytes(6, f_int(1, 1) + f_int(2, 1) + f_bytes(3, envelope('cache-ch'))),
    'cache_miss': f_bytes(6, f_int(1, 1)),
    'webhook': f_bytes(7, f_bytes(1, 'app1') + f_bytes(2, '{"name":"channel_occupied","channel":"ch"}')),
    'terminate': f_bytes(8, f_bytes(1, 'app1') + f_bytes(2, 'u1')),
    'usage': f_bytes(10, f_bytes(1, f_bytes(1, 'app1') + f_int(2, 5))),
}
BRIDGE_MSGS['health'] = f_bytes(20, f_int(1, 0) + f_bytes(2, 'redis down'))
BRIDGE_MSGS['batch'] = f_bytes(9, f_bytes(1, BRIDGE_MSGS['deliver']) + f_bytes(1, BRIDGE_MSGS['ack'])
                               + f_bytes(1, BRIDGE_MSGS['webhook']))
BRIDGE_MSGS['batch_ready'] = f_bytes(9, f_bytes(1, BRIDGE_MSGS['ready']) + f_bytes(1, BRIDGE_MSGS['deliver']))


def bulk(s):
    if isinstance(s, str):
        s = s.encode()
    return b'$%d\r\n%s\r\n' % (len(s), s)


def arr(*items):
    return b'*%d\r\n' % len(items) + b''.join(items)


RESP = {
    'message': arr(bulk('message'), bulk('swb:app1:ch:ch'), bulk(envelope())),
    'message_cache': arr(bulk('message'), bulk('swb:app1:ch:cache-c'), bulk(envelope('cache-c'))),
    'ctl': arr(bulk('message'), bulk('swb:ctl'), bulk('{"cmd":"terminate","app_id":"app1","user_id":"u1"}')),
    'subscribe': arr(bulk('subscribe'), bulk('swb:app1:ch:ch'), b':1\r\n'),
    'unsubscribe': arr(bulk('unsubscribe'), bulk('swb:app1:ch:ch'), b':0\r\n'),
    'pmessage': arr(bulk('pmessage'), bulk('swb:*'), bulk('swb:app1:ch:ch'), bulk('x')),
    'status_error': b'+OK\r\n-ERR wrong\r\n',
    'wrong_type': arr(bulk('message'), b':1\r\n', bulk('x')),
    'cmd_replies': b'!' + arr(bulk('a'), b':1\r\n', arr(bulk('b'))) + b'+OK\r\n$-1\r\n',
}


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


for k, v in EDGE_MSGS.items():
    write('fuzz_bridge_edge_msg', k, b'\x00' + v)  # first byte: pipe 1
for k, v in BRIDGE_MSGS.items():
    write('fuzz_edge_bridge_msg', k, v)
for k, v in RESP.items():
    write('fuzz_redis_reply', k, v)
