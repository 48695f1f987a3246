from tests.support.server import LiveServer


def test_sendsms_accepts_and_logs(server: LiveServer) -> None:
    account = server.create_account()
    with server.client() as http:
        r = http.get("/sendsms/", params={"apikey": account.api_key, "recipients": "+32470123456", "message": "hi"})
        print(r.status_code, r.text)
        assert r.status_code == 200
        r = http.get("/log/sent/sms", params={"apikey": account.api_key})
        print(r.text)
        r = http.get("/getsms", params={"apikey": "nope"})
        print(r.status_code, r.text)
