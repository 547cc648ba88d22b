"""One citizen's application through the portal over HTTP, as a browser
without JavaScript makes it: every page of the journey, its forms posted
with the session's CSRF token, the cookie kept (it is Secure: sent here
over plain HTTP all the same, as the ingress would terminate TLS).
Then follows it on the tracking page with the number and the code.
Prints the application number and tracking code the confirmation shows.

    python3 apply.py HOST:PORT SEED

SEED picks the (valid, synthetic) T.C. identity number.
"""

import http.client
import re
import sys
import urllib.parse



def tc_number(seed):
    """A T.C. number passing the check digits: nine digits, then two."""
    d = [int(c) for c in str(100000000 + seed % 800000000)]
    d10 = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    d11 = (sum(d) + d10) % 10
    return "".join(map(str, d + [d10, d11]))


host, national_id = sys.argv[1], tc_number(int(sys.argv[2]))
cookies = {}
csrf = ""


def call(method, path, fields=None):
    global csrf
    conn = http.client.HTTPConnection(host, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    body = None
    if fields is not None:
        body = urllib.parse.urlencode(list(fields) + [("_csrf", csrf)])
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    text = r.read().decode()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name] = rest.split(";")[0]
    m = re.search(r'name="_csrf" value="([^"]+)"', text)
    if m:
        csrf = m.group(1)
    want = 303 if method == "POST" else 200
    if r.status != want:
        sys.exit(f"{method} {path}: {r.status} (wanted {want})\n{text[:400]}")
    return text


pages = [
    ("/basvuru/kisi", [("national_id", national_id), ("full_name", "Ayşe Yılmaz"), ("mobile_phone", "0532 123 45 67")]),
    ("/basvuru/il", [("province", "6")]),
    ("/basvuru/ilce", [("district", "6007")]),
    ("/basvuru/konu", [("topic", "H07")]),
    ("/basvuru/tur", [("type_code", "H07-01")]),
    ("/basvuru/ayrinti", [("kind", "complaint"), ("subject", "Kaldırım bozuk"),
                          ("text", "Sokağımızdaki kaldırım aylardır bozuk; yaşlılar düşüyor.")]),
]
for path, fields in pages:
    call("GET", path)
    call("POST", path, fields)
call("GET", "/basvuru/kontrol")
call("POST", "/basvuru/gonder", [])
done = call("GET", "/basvuru/tamam")
number = re.search(r'<strong class="number">([^<]+)</strong>', done)
code = re.search(r'<strong class="code">([^<]+)</strong>', done)
if not (number and code):
    sys.exit("no number on the confirmation page")
# The citizen follows it with the number and the tracking code.
call("GET", "/takip")
call("POST", "/takip", [("number", number.group(1)), ("code", code.group(1).lower())])
if number.group(1) not in call("GET", "/takip/sonuc"):
    sys.exit("the tracking page does not show the application")
print(number.group(1), code.group(1))
