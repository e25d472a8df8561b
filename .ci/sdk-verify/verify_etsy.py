"""Checks the Etsy mock's sample delivery with the official Standard Webhooks library
(`standardwebhooks` on PyPI), and that a tampered copy is refused (.ci/sdk-verify/run)."""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verifies(secret: str, headers: dict, body: str) -> bool:
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


def main() -> int:
    sample = json.load(open(sys.argv[1]))["etsy"]
    headers = {name.lower(): value for name, value in sample["headers"].items()}
    body = sample["body"]
    tampered = body.replace('"order.paid"', '"order.canceled"')
    assert tampered != body, "the sample is an order.paid notice"
    results = [
        ("etsy: the mock's delivery verifies (standardwebhooks)", verifies(sample["secret"], headers, body), True),
        ("etsy: a tampered delivery is refused (standardwebhooks)", verifies(sample["secret"], headers, tampered), False),
    ]
    failed = 0
    for name, got, wanted in results:
        ok = got == wanted
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
