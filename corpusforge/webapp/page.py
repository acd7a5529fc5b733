"""The single HTML page the server returns (inline CSS and JS: no external resource is ever loaded)."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>corpusforge: protect your photos</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
#drop{border:2px dashed #888;border-radius:8px;padding:2em;text-align:center;background:#fafafa}
#drop.over{background:#eef6ff;border-color:#36c}
.row{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
figure{margin:0;text-align:center}figure img{max-width:300px;max-height:300px;border:1px solid #ccc}
button{font-size:1em;padding:.5em 1em}#status{margin:1em 0;font-weight:600}
.warn{background:#fff4e0;border-left:4px solid #e90;padding:.6em 1em}
pre{background:#f4f4f4;padding:.8em;white-space:pre-wrap}
</style></head><body>
<h1>Protect your photos</h1>
<p>Adds a small, bounded noise to each photo (same file type and size) so that a CLIP-style model trained on
the photo <b>and its caption</b> learns the noise instead of the content. Everything runs on this computer.</p>
<div id="drop">Drop JPEG, PNG or WebP photos here, or
<input id="files" type="file" name="photos" multiple accept="image/jpeg,image/png,image/webp"></div>
<p id="chosen"></p>
<div class="row"><label>Strength
<select id="preset">__PRESETS__</select></label>
<button id="preview-btn" type="button">Preview the first photo</button>
<button id="protect-btn" type="button">Protect all and download zip</button></div>
<div id="status" role="status"></div>
<div class="row" id="preview" hidden>
<figure><img id="original" alt="original"><figcaption>original</figcaption></figure>
<figure><img id="protected" alt="protected"><figcaption>protected</figcaption></figure>
<figure><img id="difference" alt="difference x10"><figcaption>difference, amplified 10x</figcaption></figure>
</div>
<p id="metrics"></p>
<div class="warn">Post each photo <b>together with the caption</b> listed in the zip (captions_to_post.csv):
the protection ties the noise to the first words of that caption. GPS location is removed from EXIF;
the rest of EXIF, the colour profile and transparency are kept.</div>
<pre id="captions" hidden></pre>
<script>
const input = document.getElementById('files'), drop = document.getElementById('drop');
const statusEl = document.getElementById('status');
let files = [];
function setFiles(list) { files = Array.from(list);
  document.getElementById('chosen').textContent = files.length + ' photo(s): ' + files.map(f => f.name).join(', '); }
input.addEventListener('change', () => setFiles(input.files));
drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', e => { e.preventDefault(); drop.classList.remove('over'); setFiles(e.dataTransfer.files); });
function form(list) { const fd = new FormData(); fd.append('preset', document.getElementById('preset').value);
  for (const f of list) fd.append('photos', f, f.name); return fd; }
async function post(url, fd) {
  const r = await fetch(url, {method: 'POST', body: fd, headers: {'X-Corpusforge': '1'}, credentials: 'same-origin'});
  if (!r.ok) { let msg = r.status + ''; try { msg = (await r.json()).error; } catch (e) {} throw new Error(msg); }
  return r; }
document.getElementById('preview-btn').onclick = async () => {
  if (!files.length) { statusEl.textContent = 'Choose photos first.'; return; }
  statusEl.textContent = 'Protecting ' + files[0].name + ' for the preview...';
  const fd = form([files[0]]); fd.append('names', JSON.stringify(files.map(f => f.name)));
  try { const j = await (await post('/api/preview', fd)).json();
    for (const k of ['original', 'protected', 'difference']) document.getElementById(k).src = j[k];
    document.getElementById('preview').hidden = false;
    document.getElementById('metrics').textContent = 'PSNR ' + j.psnr.toFixed(1) + ' dB, ' + j.seconds.toFixed(1) +
      ' s per photo: about ' + Math.ceil(j.seconds * files.length) + ' s for ' + files.length + ' photo(s). Caption to post: ' + j.caption;
    statusEl.textContent = 'Preview ready.';
  } catch (e) { statusEl.textContent = 'Error: ' + e.message; } };
document.getElementById('protect-btn').onclick = async () => {
  if (!files.length) { statusEl.textContent = 'Choose photos first.'; return; }
  statusEl.textContent = 'Protecting ' + files.length + ' photo(s)...';
  try { const r = await post('/api/protect', form(files)); const blob = await r.blob();
    const a = document.createElement('a'); a.href = URL.createObjectURL(blob); a.download = 'protected-photos.zip';
    document.body.appendChild(a); a.click(); a.remove();
    const caps = r.headers.get('X-Captions-To-Post');
    if (caps) { const pre = document.getElementById('captions'); pre.hidden = false;
      pre.textContent = 'Captions to post with the photos:\\n' + decodeURIComponent(caps); }
    statusEl.textContent = 'Done: protected-photos.zip downloaded.';
  } catch (e) { statusEl.textContent = 'Error: ' + e.message; } };
</script></body></html>
"""


def render(presets: dict, default: str) -> str:
    opts = "".join(f'<option value="{k}"{" selected" if k == default else ""}>{k} (noise {e:g}/255)</option>'
                   for k, (e, _) in presets.items())
    return PAGE.replace("__PRESETS__", opts)
