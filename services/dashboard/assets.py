# ruff: noqa: E501  (stylesheet and script text, kept one rule per line)
"""The dashboard's stylesheet and script, served as /static/app.css and /static/app.js (no build
step). The script is progressive enhancement only: every page reads fully without it.

What the script does: follows the page's server-sent events (`data-stream` on <body>): `step`
updates a step's phase, exit code and duration in place, `run` the run's phase, `log` appends a
rendered line (already escaped HTML from the server) to the step's log, `stored` puts the stored
log in place of the live lines (unless the page showed the stored log already), `changed` reloads a
listing's table; and the find box filters a log's lines as you type (Escape clears it).
"""

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
header{background:#1b1f24;color:#fff;padding:.5rem 1rem}header a{color:#fff;margin-right:1rem}
main{padding:1rem}a{color:#0b57d0}a:focus,button:focus,input:focus,summary:focus{outline:3px solid #f59e0b}
table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
.phase{font-weight:600;padding:0 .4rem;border-radius:3px}
.Succeeded{background:#d1fadf}.Failed{background:#fde2e1}.Running{background:#dbeafe}
.Pending,.Scheduled{background:#eee}.Skipped,.Cancelled{background:#f3e8ff}
.dag{display:flex;gap:1.5rem;align-items:flex-start;overflow-x:auto}.level{display:flex;flex-direction:column;gap:.5rem}
.step{border:1px solid #bbb;border-radius:4px;padding:.4rem .6rem;min-width:10rem}
.log{font:12px/1.45 ui-monospace,monospace;background:#0d1117;color:#e6edf3;padding:.5rem;overflow-x:auto;max-height:40rem}
.log .l{white-space:pre-wrap;word-break:break-all}.log .l a{color:#6e7681;display:inline-block;width:4em;text-decoration:none;user-select:none}
.log .l:target{background:#3b3b00}.hidden{display:none}
.bold{font-weight:700}.dim{opacity:.7}.italic{font-style:italic}.underline{text-decoration:underline}
.fg0{color:#484f58}.fg1{color:#ff7b72}.fg2{color:#3fb950}.fg3{color:#d29922}.fg4{color:#58a6ff}.fg5{color:#bc8cff}.fg6{color:#39c5cf}.fg7{color:#b1bac4}
.fg8{color:#6e7681}.fg9{color:#ffa198}.fg10{color:#56d364}.fg11{color:#e3b341}.fg12{color:#79c0ff}.fg13{color:#d2a8ff}.fg14{color:#56d4dd}.fg15{color:#fff}
.bg0{background:#484f58}.bg1{background:#b62324}.bg2{background:#1a7f37}.bg3{background:#9a6700}.bg4{background:#0969da}.bg5{background:#8250df}.bg6{background:#1b7c83}.bg7{background:#6e7781}
.bg8{background:#6e7681}.bg9{background:#ffa198}.bg10{background:#56d364}.bg11{background:#e3b341}.bg12{background:#79c0ff}.bg13{background:#d2a8ff}.bg14{background:#56d4dd}.bg15{background:#fff}
form.inline{display:inline}button{font:inherit;padding:.2rem .8rem}
"""

JS = r"""
(function(){
  function text(el, value){ if(el){ el.textContent = value; } }
  function onStep(d){
    var node = document.getElementById('step-' + d.name); if(!node){ return; }
    [node.querySelector('.phase'), document.getElementById('log-phase-' + d.name)].forEach(function(phase){
      if(phase){ phase.className = 'phase ' + d.phase; text(phase, d.phase); }
    });
    text(node.querySelector('.exit'), d.exit_code === null ? '' : 'exit ' + d.exit_code);
    text(node.querySelector('.duration'), d.duration);
    text(node.querySelector('.reason'), d.reason);
    var list = node.querySelector('ul.artifacts');
    if(list && d.artifacts.length !== list.children.length){
      list.textContent = '';
      d.artifacts.forEach(function(a){
        var li = document.createElement('li'), link = document.createElement('a');
        link.href = base + '/artifacts/' + encodeURIComponent(d.name) + '/' + a.index;
        link.setAttribute('download', a.name); link.textContent = a.name;
        li.appendChild(link); list.appendChild(li);
      });
    }
  }
  function onStored(d){
    var log = document.getElementById('log-' + d.step); if(!log){ return; }
    if(log.querySelector('.l:not([data-live])')){ return; }
    log.innerHTML = d.html;
  }
  function onRun(d){
    var phase = document.getElementById('run-phase');
    if(phase){ phase.className = 'phase ' + d.phase; text(phase, d.phase); }
    if(['Succeeded', 'Failed', 'Cancelled'].indexOf(d.phase) >= 0){
      document.querySelectorAll('form[action$="/cancel"]').forEach(function(f){ f.remove(); });
    }
    text(document.getElementById('run-duration'), d.duration);
    text(document.getElementById('run-reason'), d.reason);
  }
  function onLog(d){
    var log = document.getElementById('log-' + d.step); if(!log){ return; }
    var n = log.children.length + 1, id = d.step + '-L' + n, div = document.createElement('div');
    div.className = 'l'; div.id = id; div.setAttribute('data-live', '');
    div.innerHTML = '<a href="#' + id + '">' + n + '</a>' + d.html;
    log.appendChild(div); var box = log.closest('details'); if(box){ box.open = true; }
  }
  var url = document.body.getAttribute('data-stream'), base = (url || '').replace(/\/stream$/, '');
  if(url && window.EventSource){
    var es = new EventSource(url);
    es.addEventListener('step', function(e){ onStep(JSON.parse(e.data)); });
    es.addEventListener('run', function(e){ onRun(JSON.parse(e.data)); });
    es.addEventListener('log', function(e){ onLog(JSON.parse(e.data)); });
    es.addEventListener('stored', function(e){ onStored(JSON.parse(e.data)); });
    es.addEventListener('changed', function(){
      fetch(location.href).then(function(r){ return r.text(); }).then(function(html){
        var doc = new DOMParser().parseFromString(html, 'text/html'), fresh = doc.getElementById('runs');
        var old = document.getElementById('runs'); if(fresh && old){ old.replaceWith(fresh); }
      });
    });
    es.addEventListener('end', function(){ es.close(); });
  }
  document.querySelectorAll('input[data-find]').forEach(function(box){
    box.hidden = false;
    box.addEventListener('input', function(){
      var q = box.value.toLowerCase();
      document.querySelectorAll(box.getAttribute('data-find') + ' .l').forEach(function(line){
        line.classList.toggle('hidden', q !== '' && line.textContent.toLowerCase().indexOf(q) < 0);
      });
    });
    box.addEventListener('keydown', function(e){ if(e.key === 'Escape'){ box.value = ''; box.dispatchEvent(new Event('input')); } });
  });
})();
"""
