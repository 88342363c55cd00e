"""Repository URL normalisation (services/webhook/providers/urls.py): worked examples.

Covers https/http/ssh/git URLs and the scp-like form, the `.git` suffix, host case, ports, user
info, trailing and doubled slashes, nested GitLab groups, path case folded (providers ignore it),
and inputs that name no repository.
"""

from __future__ import annotations

import pytest

from services.webhook.providers.urls import normalise_repo_url

KEY = "github.com/org/repo"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Org/Repo",
        "https://github.com/Org/Repo.git",
        "https://GitHub.COM/Org/Repo/",
        "http://github.com/Org/Repo.git/",
        "https://user:token@github.com:443/Org/Repo.git",
        "git://github.com/Org/Repo.git",
        "ssh://git@github.com/Org/Repo.git",
        "ssh://git@github.com:22/Org/Repo",
        "git@github.com:Org/Repo.git",
        "git@GITHUB.com:/Org/Repo.git",
        "github.com:Org/Repo",
        "  https://github.com//Org//Repo.git  ",
        "https://github.com/Org/Repo?tab=readme#top",
    ],
)
def test_forms_of_one_repository(url: str) -> None:
    """Each way of writing the repository's address gives the same key."""
    assert normalise_repo_url(url) == KEY


def test_path_case_is_folded() -> None:
    """Owner and repository match whatever their case, as every provider treats them (issue 13.2)."""
    connection = normalise_repo_url("https://github.com/Woodpecker-CI/Woodpecker")
    assert connection == normalise_repo_url("git@github.com:woodpecker-ci/woodpecker.git")
    assert connection != normalise_repo_url("https://github.com/woodpecker-ci/woodpecker-other")


def test_nested_groups() -> None:
    """GitLab subgroups keep every path segment."""
    assert normalise_repo_url("git@gitlab.example.com:a/b/c/app.git") == "gitlab.example.com/a/b/c/app"


def test_dot_git_only_as_suffix() -> None:
    """Only a trailing `.git` is dropped, once."""
    assert normalise_repo_url("https://h/o/my.github.io") == "h/o/my.github.io"
    assert normalise_repo_url("https://h/o/r.git.git") == "h/o/r.git"


@pytest.mark.parametrize(
    "url", ["", "   ", "not a url", "https://", "https://host", "https://host/", "git@host:", "/a/b"]
)
def test_no_repository(url: str) -> None:
    """Text without a host and a path gives the empty key (which matches nothing)."""
    assert normalise_repo_url(url) == ""


def test_unsplittable_url_is_no_repository() -> None:
    """A URL that urllib cannot split (an unclosed IPv6 literal) gives the empty key, not an exception."""
    assert normalise_repo_url("https://[::1/o/r") == ""


def test_scp_like_path_may_start_with_digits() -> None:
    """As for git, `host:123/app` is the scp-like form with path 123/app, not a port."""
    assert normalise_repo_url("git@host:123/app.git") == "host/123/app"
