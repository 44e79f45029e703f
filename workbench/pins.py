"""Every version and checksum the instance installs, in one place.

provision.sh (its install steps), the image recipe's version, the README's table and the tests
read them from here. A new version is a deliberate change of the version, its URL and its sha256
together; `workbench.provisioning` derives each install step's pin from these values and the
bundle files it installs, so that a changed pin re-runs exactly that step, also on an instance
launched from an image baked with the old one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Download:
    """A file provision.sh downloads and installs only if its sha256 matches."""

    name: str
    """Prefix of its variables in provision.sh: `<name>_URL`, `<name>_SHA256`."""
    version: str
    url: str
    sha256: str


# Ubuntu's packages from the release's archive: the release pocket never changes, so these exact
# versions stay installable. NGINX, curl and python3-venv stay unpinned on purpose: they get the
# release's security updates. acl: setfacl, for the team's shared folder.
APT_PACKAGES = ("ca-certificates", "curl", "xz-utils", "nginx", "python3-venv", "acl")
R_VERSIONS = {"24.04": "4.3.3-2build2", "22.04": "4.1.2-1ubuntu2"}
R_PACKAGES = ("r-base-core", "r-base", "r-recommended", "r-base-dev")

# Posit builds RStudio Server for jammy; noble uses the jammy build.
RSTUDIO = Download(
    name="RSTUDIO",
    version="2026.07.1-147",
    url="https://download2.rstudio.org/server/jammy/amd64/rstudio-server-2026.07.1-147-amd64.deb",
    sha256="118e3fce4cf58ad3bfff1dc6eea3e07f294d51d28fefcc5e1cc559292c0dd06c",
)
# Shiny Server hosts Shiny for Python apps since 1.5.19 (the `python` directive).
SHINY = Download(
    name="SHINY",
    version="1.5.23.1030",
    url="https://download3.rstudio.org/ubuntu-20.04/x86_64/shiny-server-1.5.23.1030-amd64.deb",
    sha256="4a3d063a06ccd1b6c53eb1d7f4fb59965bced10d1c5c87e8c476b58dd6fd35ee",
)
# configurable-http-proxy 5.3 and its dependency commander 15 need Node >= 22.12; Ubuntu ships
# 18 (24.04) or 12 (22.04). The official build, checked against nodejs.org's SHASUMS256.txt.
NODE = Download(
    name="NODE",
    version="22.23.2",
    url="https://nodejs.org/dist/v22.23.2/node-v22.23.2-linux-x64.tar.xz",
    sha256="d60acfe00a2932254bb0ad20e01b0d74397a0875595de719654b214f4b03f307",
)

DOWNLOADS = (RSTUDIO, SHINY, NODE)
