from tests.support.server import LiveServer
from simgate.client import Client, ApiError

def test_probe(server: LiveServer) -> None:
    a = server.create_account()
    with Client(server.url, a.api_key) as c:
        print(repr(c))
        r = c.send(["+32470123456", "bad", "+32470123457"], "hi", at=4000000000, sim=2)
        print(r)
        print(c.sent_log(limit=1))
        print(list(c.iter_sent_log(page_size=1)))
        print(c.inbox())
        try:
            c.send("+32470123456", "")
        except ApiError as e:
            print(repr(e), e, e.parameter)
        try:
            c.resend("x")
        except ApiError as e:
            print(repr(e), e)
