"""The evaluator's reading of AWS's rules, and the project's policy against the one it replaced."""

import unittest
from typing import Any

from ecr_lifecycle import DAY, Image, Policy, Repository, expired_by, pullable_builds, push_build, replay, run

UNTAGGED_7_DAYS: dict[str, Any] = {
    "rulePriority": 2,
    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
    "action": {"type": "expire"},
}
KEEP_30_BUILDS: Policy = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["commit-"],
                "countType": "imageCountMoreThan",
                "countNumber": 30,
            },
            "action": {"type": "expire"},
        },
        UNTAGGED_7_DAYS,
    ]
}
# What modules/registry had before: "keep the 30 most recent images", any tag status.
KEEP_30_MANIFESTS: Policy = {
    "rules": [
        dict(UNTAGGED_7_DAYS, rulePriority=1),
        {
            "rulePriority": 2,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
            "action": {"type": "expire"},
        },
    ]
}


class Rules(unittest.TestCase):
    def test_referenced_images_outlive_their_age_until_the_index_is_gone(self) -> None:
        repo = Repository()
        index = push_build(repo, 0, 0)
        self.assertNotIn(repo.images[index].children[0], expired_by(KEEP_30_BUILDS, repo, 30 * DAY))
        child = repo.images[index].children[0]
        del repo.images[index]
        # The per-platform index still references the image: it goes first, the image at the next evaluation.
        self.assertNotIn(child, expired_by(KEEP_30_BUILDS, repo, 30 * DAY))
        run(KEEP_30_BUILDS, repo, 30 * DAY)
        self.assertIn(child, expired_by(KEEP_30_BUILDS, repo, 31 * DAY))

    def test_count_keeps_the_most_recent_matches(self) -> None:
        repo = Repository()
        for n in range(3):
            repo.push(Image(f"d{n}", n, tags=(f"commit-{n}",)))
        policy = {
            "rules": [
                dict(KEEP_30_BUILDS["rules"][0], selection=dict(KEEP_30_BUILDS["rules"][0]["selection"], countNumber=2))
            ]
        }
        self.assertEqual(set(expired_by(policy, repo, 10)), {"d0"})

    def test_prefix_selects_only_build_tags(self) -> None:
        repo = Repository()
        repo.push(Image("old", 0, tags=("0123abcd",)))
        self.assertEqual(
            expired_by(
                {
                    "rules": [
                        dict(
                            KEEP_30_BUILDS["rules"][0],
                            selection=dict(KEEP_30_BUILDS["rules"][0]["selection"], countNumber=0),
                        )
                    ]
                },
                repo,
                DAY,
            ),
            {},
        )

    def test_a_lower_rule_never_expires_what_a_higher_rule_matched(self) -> None:
        repo = Repository()
        repo.push(Image("untagged", 0))
        policy = {
            "rules": [
                dict(UNTAGGED_7_DAYS, rulePriority=1, selection=dict(UNTAGGED_7_DAYS["selection"], countNumber=99)),
                {
                    "rulePriority": 2,
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 0},
                    "action": {"type": "expire"},
                },
            ]
        }
        self.assertEqual(expired_by(policy, repo, DAY), {})


class Replay(unittest.TestCase):
    def test_the_policy_keeps_30_whole_builds(self) -> None:
        repo, broken = replay(KEEP_30_BUILDS)
        self.assertEqual(len(pullable_builds(repo)), 30)
        self.assertEqual(broken, 0)

    def test_counting_manifests_keeps_a_handful_of_builds(self) -> None:
        repo, _ = replay(KEEP_30_MANIFESTS)
        self.assertLess(len(pullable_builds(repo)), 5)


if __name__ == "__main__":
    unittest.main()
