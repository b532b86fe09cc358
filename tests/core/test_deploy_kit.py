"""The deployment kit stays complete: every setting read from the environment is in the template,
and the production settings pass `check --deploy` with it (CI runs the same check)."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV_READ = re.compile(r"""(?:environ\.get|env_bool|env_list|environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")


def template_names() -> set[str]:
    text = (ROOT / "deploy/campuspass.env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def test_the_env_template_lists_every_setting_read_from_the_environment():
    sources = [*sorted((ROOT / "campuspass/settings").glob("*.py")), ROOT / "deploy/gunicorn.conf.py"]
    read = {name for path in sources for name in ENV_READ.findall(path.read_text())}
    assert "SECRET_KEY" in read and "DATABASE_URL" in read  # the pattern still finds them
    missing = sorted(read - template_names() - {"DJANGO_SETTINGS_MODULE"})
    assert missing == [], f"add these to deploy/campuspass.env.example with their meaning: {missing}"


def test_the_template_loads_in_a_shell_like_systemd_reads_it():
    """deploy/backup.sh and the replay source the file with `set -e`: a value with a space left
    unquoted ran its second word as a command there (OTP_TOTP_ISSUER=CampusPass 保卫处)."""
    done = subprocess.run(
        [
            "bash",
            "-c",
            "set -euo pipefail; set -a; . deploy/campuspass.env.example; "
            'printf "%s\\n%s" "$SMS_TEMPLATE_CODES" "$OTP_TOTP_ISSUER"',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr == ""
    assert done.stdout.split("\n") == ['{"otp": "SMS_000000000"}', "CampusPass 保卫处"]


@pytest.mark.parametrize("unit", sorted(p.name for p in (ROOT / "deploy/systemd").glob("*.service")))
def test_service_units_read_the_env_file_and_run_as_the_service_user(unit):
    text = (ROOT / "deploy/systemd" / unit).read_text()
    assert "EnvironmentFile=/etc/campuspass/campuspass.env" in text
    assert "User=campuspass" in text and "ExecStart=/opt/campuspass/" in text


def _location_blocks() -> dict[str, str]:
    text = (ROOT / "deploy/nginx/campuspass.conf").read_text()
    return {m.group(1).strip(): m.group(2) for m in re.finditer(r"location\s+([^{]+)\{([^}]*)\}", text)}


def test_nginx_waits_longer_for_the_downloads_built_before_their_first_byte():
    from django.urls import reverse

    blocks = _location_blocks()
    exports = next(key for key in blocks if key.startswith("~ ^/(office/"))
    pattern = re.compile(exports.removeprefix("~ "))
    downloads = [reverse("backoffice:exports-download", args=[kind]) for kind in ("fulfilment", "orders")]
    downloads += [
        reverse("backoffice:exports-download-csv", args=["orders"]),
        reverse("backoffice:audit_export"),
    ]
    downloads.append(reverse("admin:registry_pass_export"))
    for url in downloads:  # the app's own download URLs reach that location
        assert pattern.match(url), url
    for url in (reverse("backoffice:exports"), "/office/", "/m/", "/admin/registry/pass/"):  # only those
        assert not pattern.match(url), url
    assert "proxy_read_timeout 300s;" in blocks[exports] and "proxy_next_upstream off;" in blocks[exports]
    # Everything else: 60 s, and a down or restarting host's GETs go to the next one.
    assert "proxy_read_timeout 60s;" in blocks["/"] and "proxy_next_upstream error timeout" in blocks["/"]
    params = (ROOT / "deploy/nginx/campuspass_proxy_params").read_text()
    assert not re.search(r"^proxy_(read_timeout|next_upstream)", params, flags=re.M)  # no duplicates


@pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="nginx is not installed here")
def test_the_nginx_site_passes_nginx_t(tmp_path):
    """`nginx -t` on the site as shipped, with loopback ports and a scratch certificate, as
    scripts/replay-deploy.sh runs it (a directive twice in one block fails here, not on the day)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    site = (ROOT / "deploy/nginx/campuspass.conf").read_text()
    for old, new in (
        ("listen 80;", "listen 127.0.0.1:18080;"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", "listen 127.0.0.1:18443 ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("/etc/ssl/campuspass", str(tmp_path)),
        ("/etc/nginx/campuspass_proxy_params", str(ROOT / "deploy/nginx/campuspass_proxy_params")),
        ("/var/log/nginx/campuspass.access.log", str(tmp_path / "access.log")),
    ):
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "run"
    temp.mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log warn; events {{}}\n"
        f"http {{ include /etc/nginx/mime.types; client_body_temp_path {temp}/b; proxy_temp_path {temp}/p;"
        f" fastcgi_temp_path {temp}/f; uwsgi_temp_path {temp}/u; scgi_temp_path {temp}/s;"
        f" include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run(
        ["/usr/sbin/nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
