"""Finds module cycles in a crate: `python3 tools/module_cycles.py app/src` prints each cycle
and exits 1, or says there is none. Modules are files (an inline `mod x { }` counts as its
file); an edge is any `crate::`, `super::` or `self::` path in a `use` or in the code, outside
`#[cfg(test)] mod tests`. Rust allows cycles, but a module that imports one that imports it back
cannot be read bottom-up (STYLE.md 13), so `./dev test` runs this on app/ and server/."""
import os, re, sys
root = sys.argv[1]
mods = {}  # module path tuple -> file
for dp, dn, fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        p = os.path.relpath(os.path.join(dp, f), root)
        parts = p[:-3].split(os.sep)
        if parts[-1] in ('mod', 'lib', 'main'): parts = parts[:-1]
        mods[tuple(parts)] = os.path.join(dp, f)
# inline modules: `mod name {` inside files
inline = {}
for m, f in list(mods.items()):
    for line in open(f):
        mm = re.match(r'\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{', line)
        if mm and mm.group(1) != 'tests':
            inline[m + (mm.group(1),)] = f
def resolve(path):
    # longest prefix that is a file module (inline modules count as their file)
    for i in range(len(path), 0, -1):
        if tuple(path[:i]) in mods: return tuple(path[:i])
        if tuple(path[:i]) in inline:
            return resolve(list(path[:i-1])) if i > 1 else ()
    return ()
edges = {m: set() for m in mods}
for m, f in mods.items():
    text = open(f).read()
    # strip test modules
    text = re.split(r'#\[cfg\(test\)\]\s*mod tests', text)[0]
    # expand use groups crudely: collect crate:: paths
    for use in re.finditer(r'^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);', text, re.S | re.M):
        body = use.group(1).replace('\n', ' ')
        def expand(prefix, s):
            s = s.strip()
            out = []
            depth = 0; cur = ''; items = []
            if '{' not in s or '}' not in s: return [prefix + s]
            i = s.index('{'); head = s[:i]; inner = s[i+1:s.rindex('}')]
            for ch in inner:
                if ch == '{': depth += 1
                if ch == '}': depth -= 1
                if ch == ',' and depth == 0: items.append(cur); cur = ''
                else: cur += ch
            items.append(cur)
            for it in items:
                if it.strip(): out += expand(prefix + head, it)
            return out
        for p in expand('', body):
            p = p.split(' as ')[0].strip()
            segs = [x for x in p.split('::') if x]
            if not segs: continue
            if segs[0] == 'crate': base = []; segs = segs[1:]
            elif segs[0] == 'super':
                base = list(m) if f.endswith('mod.rs') or f.endswith('lib.rs') else list(m)
                while segs and segs[0] == 'super': base = base[:-1]; segs = segs[1:]
            elif segs[0] == 'self': base = list(m) if (f.endswith('mod.rs') or f.endswith('lib.rs')) else list(m); segs = segs[1:]
            else: continue
            t = resolve(base + segs)
            if t != m and t != () : edges[m].add(t)
    for p in re.findall(r'(?<![\w:])crate((?:::\w+)+)', text):
        segs = [x for x in p.split('::') if x]
        t = resolve(segs)
        if t != m and t != (): edges[m].add(t)
# drop edges to own submodules' parent? keep all. Tarjan
index = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in edges:
    if v not in index: sc(v)
for comp in sccs:
    names = sorted('::'.join(x) for x in comp)
    print('cycle:', ', '.join(names))
    for x in comp:
        for y in edges[x]:
            if y in comp: print('   ', '::'.join(x), '->', '::'.join(y))
if not sccs: print(f'{root}: no module cycles')
sys.exit(1 if sccs else 0)
