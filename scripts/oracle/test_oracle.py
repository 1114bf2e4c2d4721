"""Self-test of the oracle scripts (Lily/LoRA math, injection, trainer, file formats).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/oracle/test_oracle.py
(test/oracle/lily_ref.test.ts runs it under mocha.)
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lily_ref  # noqa: E402
import models  # noqa: E402
from export import export, load_model_dir  # noqa: E402
from tensorfile import read_safetensors, write_safetensors  # noqa: E402

torch.set_num_threads(1)


def np_lily(x, A, B, R, s, routing, mask=None):
    """LILY.md's formulas written again, independently, in numpy."""
    h = x @ A
    z = h @ R
    z = np.exp(z - z.max(-1, keepdims=True))
    p_tok = z / z.sum(-1, keepdims=True)
    if routing == "token":
        return s * sum(p_tok[..., e:e + 1] * (h @ B[e]) for e in range(B.shape[0]))
    if routing == "masked" and mask is not None:
        keep = mask.astype(bool)
        p = p_tok[keep].mean(0)
    else:
        p = p_tok.reshape(-1, p_tok.shape[-1]).mean(0)
    return s * h @ np.tensordot(p, B, axes=1)


class LilyMath(unittest.TestCase):
    def setUp(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(3, 5, 6, generator=g, dtype=torch.float64)
        self.A = torch.randn(6, 4, generator=g, dtype=torch.float64)
        self.B = torch.randn(3, 4, 7, generator=g, dtype=torch.float64)
        self.R = torch.randn(4, 3, generator=g, dtype=torch.float64)
        self.mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])

    def check(self, routing, mask=None, x=None):
        x = self.x if x is None else x
        got, _ = lily_ref.lily_delta(x, self.A, self.B, self.R, 0.7, routing, mask)
        want = np_lily(x.numpy(), self.A.numpy(), self.B.numpy(), self.R.numpy(), 0.7, routing,
                       None if mask is None else mask.numpy())
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)

    def test_batch_routing(self):
        self.check("batch")

    def test_masked_routing(self):
        self.check("masked", self.mask)

    def test_masked_differs_from_batch_when_padding_exists(self):
        a, _ = lily_ref.lily_delta(self.x, self.A, self.B, self.R, 1.0, "batch")
        b, _ = lily_ref.lily_delta(self.x, self.A, self.B, self.R, 1.0, "masked", self.mask)
        self.assertGreater(float((a - b).abs().max()), 1e-6)

    def test_token_routing(self):
        self.check("token")

    def test_2d_input(self):
        self.check("batch", x=self.x[:, 0])
        self.check("token", x=self.x[:, 0])

    def test_batch_mean_couples_samples(self):
        # The reference behaviour: a sample's output depends on the rest of its batch.
        full, _ = lily_ref.lily_delta(self.x, self.A, self.B, self.R, 1.0, "batch")
        alone, _ = lily_ref.lily_delta(self.x[:1], self.A, self.B, self.R, 1.0, "batch")
        self.assertGreater(float((full[:1] - alone).abs().max()), 1e-6)
        full, _ = lily_ref.lily_delta(self.x, self.A, self.B, self.R, 1.0, "token")
        alone, _ = lily_ref.lily_delta(self.x[:1], self.A, self.B, self.R, 1.0, "token")
        self.assertLess(float((full[:1] - alone).abs().max()), 1e-12)

    def test_lora(self):
        A, B = self.A, self.B[0]
        got = lily_ref.lora_delta(self.x, A, B, 16 / 4)
        np.testing.assert_allclose(got.numpy(), 4.0 * (self.x.numpy() @ A.numpy() @ B.numpy()), rtol=1e-12)


class Injection(unittest.TestCase):
    def test_sharing_groups_and_counts(self):
        model = models.build("encoder", {"layers": 4}, seed=0).double()
        params, layout, _ = lily_ref.inject(model, {"method": "lily", "target_modules": ["value"], "r": 8, "stride_A": 3, "num_B": 2})
        self.assertEqual([l["A"] for l in layout], ["value.lily_A.0"] * 3 + ["value.lily_A.1"])
        self.assertEqual(len({l["router"] for l in layout}), 4)
        n = sum(p.numel() for p in params.values())
        self.assertEqual(n, lily_ref.lily_param_count(4, 3, 8, 32, 32, 2))
        self.assertEqual(float(params["value.lily_B"].detach().abs().max()), 0.0)
        bound = 1 / math.sqrt(32)
        self.assertLessEqual(float(params["value.lily_A.0"].detach().abs().max()), bound)
        self.assertGreater(float(params["value.lily_A.0"].detach().abs().max()), 0.5 * bound)

    def test_zero_B_keeps_the_base_model(self):
        base = models.build("encoder", {}, seed=1).double()
        adapted = models.build("encoder", {}, seed=1).double()
        lily_ref.inject(adapted, {"method": "lily", "target_modules": ["query", "value"], "r": 4})
        inputs = models.sample_inputs("encoder", base)
        with torch.no_grad():
            self.assertTrue(torch.equal(base(**inputs), adapted(**inputs)))

    def test_regex_exclude_layers_and_shape_groups(self):
        model = models.build("vit", {"layers": 3}, seed=0)
        chosen = lily_ref.select_targets(model, {"target_modules": r"blocks\.\d+\.mlp\.fc\d", "layers_to_transform": [0, 2]})
        self.assertEqual([(n, k) for n, _, k in chosen], [
            ("blocks.0.mlp.fc1", "regex@32x64"), ("blocks.0.mlp.fc2", "regex@64x32"),
            ("blocks.2.mlp.fc1", "regex@32x64"), ("blocks.2.mlp.fc2", "regex@64x32")])
        chosen = lily_ref.select_targets(model, {"target_modules": ["qkv", "fc1"], "exclude_modules": ["blocks.1.attn.qkv"]})
        self.assertEqual([n for n, _, _ in chosen], ["blocks.0.attn.qkv", "blocks.0.mlp.fc1", "blocks.1.mlp.fc1", "blocks.2.attn.qkv", "blocks.2.mlp.fc1"])
        with self.assertRaises(SystemExit):
            lily_ref.select_targets(model, {"target_modules": ["nothing"]})

    def test_masked_routing_ignores_padding_content(self):
        model = models.build("encoder", {}, seed=2).double()
        params, _, ctx = lily_ref.inject(model, {"method": "lily", "target_modules": ["value"], "r": 4, "routing": "masked"})
        with torch.no_grad():
            params["value.lily_B"].normal_(0, 0.5)
        inputs = models.sample_inputs("encoder", model)
        other = {k: v.clone() for k, v in inputs.items()}
        other["input_ids"][inputs["attention_mask"] == 0] = 5
        outs = []
        for mode in ("masked", "batch"):
            for m in model.modules():
                if isinstance(m, lily_ref.LilyLinear):
                    m.routing = mode
            with torch.no_grad():
                ctx.mask = inputs["attention_mask"]
                a = model(**inputs)
                b = model(**other)
            outs.append(float((a - b).abs().max()))
        self.assertLess(outs[0], 1e-12, "masked routing: padding content must not matter")
        self.assertGreater(outs[1], 1e-9, "batch routing: padding tokens take part in the mean")


class AdamWFormula(unittest.TestCase):
    def test_torch_adamw_is_the_documented_formula(self):
        p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
        opt = torch.optim.AdamW([p], lr=0.1, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05)
        w = p.detach().clone()
        m = torch.zeros(3, dtype=torch.float64)
        v = torch.zeros(3, dtype=torch.float64)
        for t in range(1, 4):
            g = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64) * t
            p.grad = g.clone()
            opt.step()
            w = w * (1 - 0.1 * 0.05)
            m = 0.8 * m + 0.2 * g
            v = 0.9 * v + 0.1 * g * g
            w = w - 0.1 * (m / (1 - 0.8 ** t)) / ((v / (1 - 0.9 ** t)).sqrt() + 1e-6)
        np.testing.assert_allclose(p.detach().numpy(), w.numpy(), rtol=1e-14)


class Jobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.enc = os.path.join(cls.tmp.name, "enc")
        export("encoder", cls.enc, seed=4)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def write_job(self, adapter, steps, init=None, **extra):
        d = self.tmp.name
        sample, _ = read_safetensors(os.path.join(self.enc, "sample.safetensors"))
        write_safetensors(os.path.join(d, "batch.safetensors"), {
            "input_ids": sample["input_ids"], "attention_mask": sample["attention_mask"],
            "labels": np.array([0, 1, 2], dtype=np.int64)})
        job = {"model_dir": "enc", "adapter": adapter, "modules_to_save": ["classifier"],
               "data": "batch.safetensors", "steps": steps, "optimizer": {"lr": 0.01}, **extra}
        if init:
            write_safetensors(os.path.join(d, "init.safetensors"), init)
            job["init"] = "init.safetensors"
        path = os.path.join(d, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        return path

    def run_cli(self, job_path):
        out = subprocess.run([sys.executable, os.path.join(HERE, "lily_ref.py"), job_path], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def lily_init(self, seed=7):
        g = np.random.default_rng(seed)
        return {"value.lily_A.0": g.normal(0, 0.3, (32, 4)).astype(np.float32),
                "value.lily_B": g.normal(0, 0.3, (2, 4, 32)).astype(np.float32),
                "encoder.layer.0.attention.self.value.lily_router": g.normal(0, 0.5, (4, 2)).astype(np.float32),
                "encoder.layer.1.attention.self.value.lily_router": g.normal(0, 0.5, (4, 2)).astype(np.float32)}

    def test_gradients_match_finite_differences(self):
        adapter = {"method": "lily", "target_modules": ["value"], "r": 4, "stride_A": 2, "num_B": 2, "scaling": 0.5}
        init = self.lily_init()
        r = self.run_cli(self.write_job(adapter, 0, init))
        self.assertEqual(sorted(r["from_init_file"]), sorted(init))
        # Rebuild the same function here and differentiate numerically (float64, central differences).
        model, _ = load_model_dir(self.enc, torch.float64)
        params, _, ctx = lily_ref.inject(model, adapter)
        batch = lily_ref.load_batches(os.path.join(self.tmp.name, "batch.safetensors"), ["input_ids", "attention_mask"], torch.float64)[0]
        with torch.no_grad():
            for k, v in init.items():
                params[k].copy_(torch.from_numpy(v))
        ctx.mask = batch["attention_mask"]

        def loss():
            with torch.no_grad():
                return float(lily_ref.task_loss("sequence-classification", model(batch["input_ids"], batch["attention_mask"]), batch))

        for name in ("value.lily_A.0", "value.lily_B", "encoder.layer.1.attention.self.value.lily_router"):
            flat = params[name].data.view(-1)
            for idx in (0, flat.numel() // 2, flat.numel() - 1):
                old = float(flat[idx])
                flat[idx] = old + 1e-6
                up = loss()
                flat[idx] = old - 1e-6
                down = loss()
                flat[idx] = old
                numeric = (up - down) / 2e-6
                analytic = r["grads"][name]["data"][idx]
                self.assertAlmostEqual(analytic, numeric, delta=1e-6 + 1e-5 * abs(numeric), msg=f"{name}[{idx}]")
        self.assertGreater(max(abs(v) for v in r["grads"]["value.lily_A.0"]["data"]), 1e-6)

    def test_training_lowers_the_loss_and_writes_final_weights(self):
        for adapter in ({"method": "lily", "target_modules": ["query", "value"], "r": 4, "num_B": 3, "routing": "token"},
                        {"method": "lora", "target_modules": ["value"], "r": 2, "lora_alpha": 4}):
            r = self.run_cli(self.write_job(adapter, 8, final_weights="final.safetensors", max_grad_norm=1.0))
            self.assertEqual(len(r["losses"]), 8)
            self.assertLess(r["final_loss"], r["losses"][0] - 0.05)
            final, _ = read_safetensors(os.path.join(self.tmp.name, "final.safetensors"))
            self.assertEqual(sorted(final), sorted(r["tensors"]))

    def test_bad_init_file_is_named(self):
        path = self.write_job({"method": "lily", "target_modules": ["value"], "r": 4}, 0,
                              {"value.lily_B": np.zeros((2, 4, 31), np.float32)})
        out = subprocess.run([sys.executable, os.path.join(HERE, "lily_ref.py"), path], capture_output=True, text=True)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("init.safetensors: tensor value.lily_B has shape [2, 4, 31], expected [2, 4, 32]", out.stderr)


class TensorFiles(unittest.TestCase):
    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "t.safetensors")
            t = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], np.int64), "c": np.float64(3.5).reshape(())}
            write_safetensors(p, t, {"k": "v"})
            back, meta = read_safetensors(p)
            self.assertEqual(meta, {"k": "v"})
            for k in t:
                self.assertEqual(back[k].dtype, t[k].dtype)
                np.testing.assert_array_equal(back[k], t[k])


if __name__ == "__main__":
    unittest.main(verbosity=1)
