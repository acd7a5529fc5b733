"""The HTML report of a protect run: loss curves, PSNR histogram, surrogate evaluation, per-image table."""
from __future__ import annotations

import io


def _plot_png(draw) -> str:
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=80)
    draw(ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_report_html(report: dict, stats: dict) -> str:
    import html

    curves = report["curves"]
    steps = [v for rnd in curves["surrogate_loss"] for v in rnd]

    def surrogate_plot(ax):
        ax.plot(steps, lw=0.8)
        ax.set_xlabel("surrogate step")
        ax.set_ylabel("contrastive loss")
        ax.set_title("surrogate training on protected pairs")

    def round_plot(ax):
        for name in ("noise_loss", "trigger_loss_before", "trigger_loss"):
            ys = [v for v in curves[name]]
            xs = [i + 1 for i, v in enumerate(ys) if v is not None]
            if xs:
                ax.plot(xs, [v for v in ys if v is not None], marker="o", label=name)
        ax.set_xlabel("round")
        ax.set_ylabel("loss")
        ax.legend()
        ax.set_title("per-round noise / trigger passes")

    def psnr_plot(ax):
        vals = [p["psnr"] for p in report["per_image"] if p["psnr"] != float("inf")]
        ax.hist(vals, bins=20)
        ax.set_xlabel("PSNR (dB)")
        ax.set_ylabel("images")
        ax.set_title("protected vs original")

    imgs = "".join(f'<img src="data:image/png;base64,{_plot_png(f)}">' for f in (surrogate_plot, round_plot, psnr_plot))
    ev_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['loss']:.4f}</td><td>{v['i2t_top1']:.3f}</td></tr>"
                      for k, v in report["surrogate_eval"].items())
    img_rows = "".join(
        f"<tr><td>{html.escape(p['id'])}</td><td>{p['width']}x{p['height']}</td><td>{p['psnr']:.2f}</td>"
        f"<td>{p['ssim']:.4f}</td><td>{p['max_abs_diff_255']}</td><td>{html.escape(p['trigger'])}</td></tr>"
        for p in report["per_image"][:2000])
    sm = report["summary"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>corpusforge protect report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}</style>
</head><body><h1>Protection report: {html.escape(report['method'])}</h1>
<p>{html.escape(report['method_description'])}</p>
<p>eps = {report['eps_255']}/255, alpha = {report['alpha'] * 255:.2f}/255, rounds = {report['rounds']},
trigger tokens = {report['trigger_tokens']}, surrogate = {html.escape(report['model'])}
({report['surrogate_image_size']}px)</p>
<p>in {stats['in']}, protected {stats['protected']}, quarantined {stats['quarantined']}
(conservation {'ok' if stats['conservation']['ok'] else 'FAILED'}).
PSNR mean {sm['psnr_mean'] if sm['psnr_mean'] is None else round(sm['psnr_mean'], 2)} dB,
SSIM mean {sm['ssim_mean']:.4f}, max |diff| {sm['max_abs_diff_255']}/255, distinct triggers {sm['distinct_triggers']}.
Noise optimized at {report['noise_size']}px; block score at the upsampling period (1 = no structure):
{'n/a (no upsampling)' if sm.get('block_score_max') is None else round(sm['block_score_max'], 2)}.</p>
{imgs}
<h2>Final surrogate on {report['eval_pairs']} pairs</h2>
<table><tr><th>images / captions</th><th>loss</th><th>image-to-text top-1</th></tr>{ev_rows}</table>
<h2>Per image</h2>
<table><tr><th>id</th><th>size</th><th>PSNR</th><th>SSIM</th><th>max |diff|</th><th>trigger</th></tr>{img_rows}</table>
</body></html>
"""
