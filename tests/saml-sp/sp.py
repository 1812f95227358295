#!/usr/bin/env python3
"""A real pysaml2 service provider, configured from trustid's IdP metadata.

  sp.py authn --idp-metadata F --entity-id E --acs URL --binding redirect|post
              [--key K --cert C --sign [--sig-alg sha256|sha1]]
      builds an AuthnRequest and prints JSON: {"request_id", "url"} for the
      Redirect binding, {"request_id", "url", "form": {field: value}} for POST.

  sp.py logout --idp-metadata F --entity-id E --acs URL --binding redirect|post
              --name-id V [--key K --cert C --sign]
      builds a LogoutRequest for NameID V and prints JSON as authn does.

  sp.py parse --idp-metadata F --entity-id E --acs URL --response-file R
              [--key K --cert C] [--in-response-to ID]
              [--want-response-signed yes|no] [--want-assertions-signed yes|no]
      parses a Response (base64, as posted to the ACS) as the SP would and
      prints {"attributes", "name_id", "name_id_format", "issuer"} as JSON;
      exits non-zero with the reason on stderr when pysaml2 refuses it.

--key/--cert is the SP's own pair: it signs AuthnRequests and decrypts
encrypted assertions (pysaml2's encryption_keypairs).
"""
import argparse
import json
import shutil
import sys

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256
from saml2.client import Saml2Client
from saml2.config import SPConfig


def client(args, want_response_signed=True, want_assertions_signed=False, allow_unsolicited=False):
    xmlsec = shutil.which("xmlsec1")
    if not xmlsec:
        sys.exit("xmlsec1 is not installed")
    sp = {
        "endpoints": {"assertion_consumer_service": [(args.acs, BINDING_HTTP_POST)]},
        "want_response_signed": want_response_signed,
        "want_assertions_signed": want_assertions_signed,
        "want_assertions_or_response_signed": True,
        "authn_requests_signed": bool(getattr(args, "sign", False)),
        "allow_unsolicited": allow_unsolicited,
    }
    conf = {
        "entityid": args.entity_id,
        "metadata": {"local": [args.idp_metadata]},
        "xmlsec_binary": xmlsec,
        # TRUSTID.* names are basic-format names no converter knows.
        "allow_unknown_attributes": True,
        "service": {"sp": sp},
    }
    if args.key and args.cert:
        conf["key_file"] = args.key
        conf["cert_file"] = args.cert
        conf["encryption_keypairs"] = [{"key_file": args.key, "cert_file": args.cert}]
    config = SPConfig()
    config.load(conf)
    return Saml2Client(config=config)


def authn(args):
    sp = client(args)
    binding = BINDING_HTTP_REDIRECT if args.binding == "redirect" else BINDING_HTTP_POST
    idp = next(iter(sp.metadata.identity_providers()))
    dest = sp.metadata.single_sign_on_service(idp, binding)[0]["location"]
    # pysaml2 signs with RSA-SHA1 unless told otherwise; --sig-alg sha1
    # reproduces that default.
    sig_alg, digest_alg = {
        "sha256": (SIG_RSA_SHA256, DIGEST_SHA256),
        "sha1": (SIG_RSA_SHA1, DIGEST_SHA1),
    }[args.sig_alg]
    # The Redirect binding signs the query string, not the XML.
    sign_xml = args.sign and binding == BINDING_HTTP_POST
    req_id, request = sp.create_authn_request(
        dest, binding=BINDING_HTTP_POST, sign=sign_xml, sign_alg=sig_alg, digest_alg=digest_alg,
    )
    if binding == BINDING_HTTP_REDIRECT:
        info = sp.apply_binding(
            binding, str(request), dest, relay_state="rs-1", sign=args.sign, sigalg=sig_alg,
        )
        url = dict(info["headers"])["Location"]
        print(json.dumps({"request_id": req_id, "url": url}))
    else:
        info = sp.apply_binding(binding, str(request), dest, relay_state="rs-1")
        import re
        form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', info["data"]))
        print(json.dumps({"request_id": req_id, "url": dest, "form": form}))


def logout(args):
    from saml2.saml import NameID, NAMEID_FORMAT_PERSISTENT
    sp = client(args)
    binding = BINDING_HTTP_REDIRECT if args.binding == "redirect" else BINDING_HTTP_POST
    idp = next(iter(sp.metadata.identity_providers()))
    dest = sp.metadata.single_logout_service(idp, binding, "idpsso")[0]["location"]
    name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text=args.name_id)
    sign_xml = args.sign and binding == BINDING_HTTP_POST
    req_id, request = sp.create_logout_request(
        dest, idp, name_id=name_id, sign=sign_xml, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
    )
    if binding == BINDING_HTTP_REDIRECT:
        info = sp.apply_binding(binding, str(request), dest, relay_state="rs-2", sign=args.sign, sigalg=SIG_RSA_SHA256)
        print(json.dumps({"request_id": req_id, "url": dict(info["headers"])["Location"]}))
    else:
        info = sp.apply_binding(binding, str(request), dest, relay_state="rs-2")
        import re
        form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', info["data"]))
        print(json.dumps({"request_id": req_id, "url": dest, "form": form}))


def parse(args):
    yes = lambda v: v == "yes"
    sp = client(
        args,
        want_response_signed=yes(args.want_response_signed),
        want_assertions_signed=yes(args.want_assertions_signed),
        allow_unsolicited=args.in_response_to is None,
    )
    with open(args.response_file) as f:
        posted = f.read().strip()
    outstanding = {args.in_response_to: "/"} if args.in_response_to else {}
    try:
        resp = sp.parse_authn_request_response(posted, BINDING_HTTP_POST, outstanding)
    except Exception as e:  # pysaml2 raises many types; any refusal is a refusal
        sys.exit("refused: %s: %s" % (type(e).__name__, e))
    if resp is None:
        sys.exit("refused: no response")
    name_id = resp.assertion.subject.name_id
    print(json.dumps({
        "attributes": resp.ava,
        "name_id": name_id.text,
        "name_id_format": name_id.format,
        "issuer": resp.issuer(),
    }))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("authn", "logout", "parse"):
        s = sub.add_parser(name)
        s.add_argument("--idp-metadata", required=True)
        s.add_argument("--entity-id", required=True)
        s.add_argument("--acs", required=True)
        s.add_argument("--key")
        s.add_argument("--cert")
    a = sub.choices["authn"]
    a.add_argument("--binding", choices=["redirect", "post"], required=True)
    a.add_argument("--sign", action="store_true")
    a.add_argument("--sig-alg", choices=["sha256", "sha1"], default="sha256")
    lo = sub.choices["logout"]
    lo.add_argument("--binding", choices=["redirect", "post"], required=True)
    lo.add_argument("--sign", action="store_true")
    lo.add_argument("--name-id", required=True)
    r = sub.choices["parse"]
    r.add_argument("--response-file", required=True)
    r.add_argument("--in-response-to")
    r.add_argument("--want-response-signed", choices=["yes", "no"], default="yes")
    r.add_argument("--want-assertions-signed", choices=["yes", "no"], default="no")
    args = p.parse_args()
    {"authn": authn, "logout": logout, "parse": parse}[args.cmd](args)


if __name__ == "__main__":
    main()
