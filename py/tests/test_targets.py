"""Targets: what a well-formed target is, and allowedModules, which a target cannot get around."""
import unittest

from pyleash import targets


class TargetsTest(unittest.TestCase):
    def tearDown(self):
        targets.allow_only(None)

    def test_a_malformed_target_is_a_target_error_not_an_exception_of_the_import(self):
        for target in ("../x:y", "a:b:c", "os", ":f", "m:", "m:1f", "é:f", 5, None):
            with self.assertRaises(targets.TargetError):
                targets.resolve(target)

    def test_without_allowed_modules_any_importable_module_runs(self):
        self.assertEqual(targets.resolve("os:getpid").__name__, "getpid")

    def test_allowed_modules_admit_their_submodules_and_nothing_else(self):
        targets.allow_only(("json", "math"))
        self.assertEqual(targets.resolve("math:floor")(2.5), 2)
        self.assertEqual(targets.resolve("json.decoder:JSONDecoder").__name__, "JSONDecoder")
        for target in ("os:system", "builtins:eval", "jsonx:loads", "mathematics:f"):
            with self.assertRaises(targets.TargetForbidden):
                targets.resolve(target)

    def test_an_attribute_path_cannot_reach_a_module_outside_the_list(self):
        targets.allow_only(("json",))
        with self.assertRaises(targets.TargetForbidden):
            targets.resolve("json:decoder.re.compile")  # json.decoder imports re

    def test_a_target_resolved_before_the_restriction_is_not_served_from_the_cache(self):
        targets.resolve("os:getcwd")
        targets.allow_only(("math",))
        with self.assertRaises(targets.TargetForbidden):
            targets.resolve("os:getcwd")


if __name__ == "__main__":
    unittest.main()
