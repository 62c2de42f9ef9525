"""pyleash.mapping.chunk: the generator each chunk of a map runs (slices, per-item errors, a stop between items)."""
import threading
import unittest

from pyleash import mapping, targets


class ChunkTest(unittest.TestCase):
    def test_yields_every_value_in_order_in_slices_of_at_most_slice_items(self):
        slices = list(mapping.chunk("math:floor", [i + 0.5 for i in range(10000)]))
        self.assertTrue(all(len(values) <= mapping.SLICE_ITEMS and errors == [] for values, errors in slices))
        self.assertEqual([v for values, _ in slices for v in values], list(range(10000)))

    def test_an_item_that_raises_is_reported_where_it_sits_and_the_others_run(self):
        values, errors = [x for s in mapping.chunk("math:sqrt", [4, -1, 9]) for x in s]
        self.assertEqual(values, [2.0, None, 3.0])
        self.assertEqual([e[:3] for e in errors], [[1, "ValueError", "math domain error"]])
        self.assertIn("Traceback", errors[0][3])

    def test_a_set_stop_event_ends_it_between_items(self):
        stop = threading.Event()
        stop.set()
        slices = list(mapping.chunk("math:floor", [1.5, 2.5, 3.5], stop_event=stop))
        self.assertEqual(sum(len(values) for values, _ in slices), 0)

    def test_allowed_modules_bind_the_target_but_not_the_mapping_module(self):
        targets.allow_only(("math",))
        try:
            targets.check("pyleash.mapping:chunk")
            with self.assertRaises(targets.TargetForbidden):
                list(mapping.chunk("os:getpid", [1]))
        finally:
            targets.allow_only(None)


if __name__ == "__main__":
    unittest.main()
