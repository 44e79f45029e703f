"""Read the instance's user data back: a MIME multipart document, as cloud-init reads it."""

from __future__ import annotations

import email
import email.policy

from stacks.server import INSTANCE_LOGICAL_ID

# What a CloudFormation token (a Ref, a Fn::Sub) stands for in the text: about a resource ID's
# length; the real values are longer only for the wait condition's URL.
TOKEN_STANDIN = "x" * 64


def user_data_document(template: dict) -> str:
    """The instance's user data in the template, each CloudFormation token made a stand-in."""
    joined = template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]["UserData"]["Fn::Base64"]
    if isinstance(joined, str):
        return joined
    _, parts = joined["Fn::Join"]
    return "".join(p if isinstance(p, str) else TOKEN_STANDIN for p in parts)


def mime_parts(document: str) -> list[tuple[str, str]]:
    """(content type, body) of each part, in order, parsed by Python's email package as cloud-init
    does (`email.message_from_string`). A document that is not multipart gives no parts."""
    message = email.message_from_string(document, policy=email.policy.compat32)
    if not message.is_multipart():
        return []
    return [
        (part.get_content_type(), part.get_payload(decode=True).decode("ascii"))
        for part in message.walk()
        if not part.is_multipart()
    ]


def shell_script(document: str) -> str:
    """The (one) shell-script part of a user data document: the bootstrap's installer."""
    (script,) = [
        body for content_type, body in mime_parts(document) if content_type == "text/x-shellscript"
    ]
    return script


def user_data_script(template: dict) -> str:
    """The template's shell-script part, each CloudFormation token replaced by TOKEN_STANDIN."""
    return shell_script(user_data_document(template))
