"""The Feishu (Lark) adapter: events in, cards out.

server.py    serve(service, settings, host, port, mode="ws"|"http"), build_asgi(service, settings)
app.py       FeishuBot: acknowledge events, run commands on a thread pool, answer with cards
events.py    event payloads as typed records
cards.py     Answer → interactive card (JSON 2.0), within Feishu's 30 KB limit
api.py       the Open API calls, with token refresh and rate-limit retries
webhook.py   POST /feishu/events: decryption, token and signature checks, right status codes
longconn.py  lark-oapi ws.Client in its own thread, with a watchdog
crypto.py    AES-256-CBC bodies and X-Lark-Signature
"""
