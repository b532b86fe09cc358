"""Pieces of `make soak` that need no machine: the nginx site made from deploy/nginx (both app hosts
upstream, this run's addresses and paths, nothing left of the example host), the staff mix, and the
latency summary. The soak itself runs with `make soak` / `make soak-quick`."""

from collections import Counter

from bench.soak import BEHAVIOURS, HTTPS_PORT, StaffClient, Stats, nginx_config, percentiles


def test_the_nginx_site_is_the_deploy_kits_with_two_app_hosts(tmp_path):
    conf = nginx_config(
        tmp_path, "10.203.0.1", ["10.203.0.11:8000", "10.203.0.12:8000"], tmp_path / "s", tmp_path / "p"
    )
    site = (tmp_path / "nginx-site.conf").read_text()
    assert "server 10.203.0.11:8000 max_fails=2" in site
    assert "server 10.203.0.12:8000 max_fails=2" in site
    assert "127.0.0.1:8000" not in site
    assert f"listen 10.203.0.1:{HTTPS_PORT} ssl" in site
    assert "[::]" not in site and "pass.example.edu.cn" not in site and "/etc/ssl/campuspass" not in site
    assert "deploy/nginx/campuspass_proxy_params;" in site
    assert f"include {tmp_path}/nginx-site.conf;" in conf.read_text()


def test_the_staff_are_distinct_people_with_the_behaviours_in_their_shares():
    clients = [
        StaffClient(n, f"京A{n:05d}", f"13{n:09d}", "https://x", "c.pem", Stats(), None, None)
        for n in range(300)
    ]
    assert Counter(c.behaviour for c in clients[:100]) == Counter(dict(BEHAVIOURS))
    assert len({c.ip for c in clients}) == 300
    assert len({c.address for c in clients}) == 300
    assert len({c.photo for c in clients}) == 300
    assert all(c.session.headers["X-Forwarded-For"] == c.ip for c in clients)


def test_percentiles_in_milliseconds():
    summary = percentiles([0.001 * n for n in range(1, 101)])
    assert summary == {"n": 100, "p50": 51.0, "p95": 96.0, "p99": 100.0, "max": 100.0}
    assert percentiles([]) == {"n": 0}
