"""An aiosmtpd handler for grantflow-email's tests.

Started by the tests as
    python3 -m aiosmtpd -n -l 127.0.0.1:<port> -c smtp_sink.Sink <directory>
with this folder on PYTHONPATH. Each accepted message is written to
<directory>/<n>.json (envelope, decoded headers and decoded body), written
to a temporary name first and renamed, so a reader never sees half a file.
Recipients at reject.example are refused permanently (550) and at
busy.example transiently (451), so the tests can check how SMTP answers map
onto delivery errors.
"""

import email
import email.policy
import json
import os


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("Sink takes one argument: the folder to write messages to")
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@reject.example"):
            return "550 5.1.1 no such mailbox"
        if address.endswith("@busy.example"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(message["from"]),
            "to": str(message["to"]),
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "notice_id": str(message["x-grantflow-notice-id"]),
            "content_type": message.get_content_type(),
            "body": message.get_content(),
        }
        path = os.path.join(self.directory, "%06d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"
