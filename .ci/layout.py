"""The layout's rules, checked on the files of src/: no import cycle between files; arrows point
one way (app -> web and conform -> protocol -> store -> domain); every module opens with a
comment saying why it exists; no file of src/ or tests/ much over 500 lines. Exit 1 naming what breaks a rule."""
import re,os,sys
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
root='src'
MAX_LINES=520
files=[os.path.join(d,f) for d,_,fs in os.walk(root) for f in fs if f.endswith('.rs') and not d.startswith('src/bin')]
def modpath(f):
    p=f[len('src/'):-3].split('/')
    if p[-1] in ('mod','lib','main'): p=p[:-1]
    return tuple(p)
mods={modpath(f):f for f in files}
# #[path] test files
for f in files:
    s=open(f).read()
    for m in re.finditer(r'#\[path = "([^"]+)"\]\s*mod (\w+);',s):
        tf=os.path.normpath(os.path.join(os.path.dirname(f),m.group(1)))
        mods[modpath(f)+('tests',)]=tf if False else f
def resolve(parts):
    for n in range(len(parts),0,-1):
        if tuple(parts[:n]) in mods: return mods[tuple(parts[:n])]
    return None
graph={}
for f in files:
    me=modpath(f)
    if f.endswith('_tests.rs'): 
        # attach to parent: find who includes
        continue
    deps=set()
    src=open(f).read()
    for tf in re.findall(r'#\[path = "([^"]+)"\]',src):
        src+=open(os.path.join(os.path.dirname(f),tf)).read()
    lines=[l for l in src.split('\n') if not l.strip().startswith('//')]
    text='\n'.join(lines)
    # expand use groups crudely: crate::a::{b, c::d}
    for m in re.finditer(r'\bcrate((?:::\w+)+)(::\{([^{}]*)\})?',text):
        base=m.group(1).strip(':').split('::')
        if m.group(3):
            for item in m.group(3).split(','):
                item=item.strip().split(' as ')[0]
                if item and item!='self': 
                    t=resolve(base+item.split('::'))
                    if t: deps.add(t)
        t=resolve(base)
        if t: deps.add(t)
    tpos=text.find('mod tests {')
    for m in re.finditer(r'\b((?:super::)+)((?:\w+::)*\w+)',text):
        ups=m.group(1).count('super')
        if tpos>=0 and m.start()>tpos: ups-=1
        base=list(me)
        # inside a file, `super` of file module me is me[:-1]; inside mod tests it's me
        base=base[:len(base)-ups]
        t=resolve(base+m.group(2).split('::'))
        if t: deps.add(t)
    for m in re.finditer(r'^\s*(?:pub(?:\(crate\))? )?mod (\w+);',text,re.M):
        child=m.group(1)
        for u in re.finditer(r'(?<![:\w])'+child+r'((?:::\w+)+)',text):
            t=resolve(list(me)+[child]+u.group(1).strip(':').split('::'))
            if t: deps.add(t)
    deps.discard(f)
    graph[f]=deps
# tarjan
sys.setrecursionlimit(10000)
idx={};low={};st=[];on=set();out=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in graph.get(v,()):
        if w not in graph: continue
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: out.append(comp)
for v in graph:
    if v not in idx: sc(v)
for comp in out:
    print(len(comp),'files in a cycle:')
    cs=set(comp)
    for v in sorted(comp):
        print('  ',v,'->',sorted(d for d in graph[v] if d in cs))
problems=len(out)
if '--graph' in sys.argv:
    for v in sorted(graph): print(v,'->',sorted(graph[v]))
print('cycles:',len(out))
RANK={'app':5,'web':4,'conform':3.5,'protocol':3,'store':2,'domain':1}
def layer(f):
    p=f.split('/')
    return p[1] if len(p)>2 else p[1][:-3]
bad=0
for f,ds in graph.items():
    lf=layer(f)
    for d in ds:
        ld=layer(d)
        if lf in RANK and ld in RANK and (RANK[ld]>RANK[lf] or (RANK[ld]==RANK[lf] and ld!=lf)):
            print('UP:',f,'->',d); bad+=1
print('upward:',bad)
problems+=bad
tests=[os.path.join(d,f) for d,_,fs in os.walk('tests') for f in fs if f.endswith('.rs')]
for f in sorted(tests):
    if len(open(f).read().split('\n'))>MAX_LINES:
        print('TOO LONG:',f); problems+=1
for f in sorted(files):
    lines=open(f).read().split('\n')
    if len(lines)>MAX_LINES:
        print('TOO LONG:',f,len(lines),'lines'); problems+=1
    if not f.endswith('_tests.rs') and not lines[0].startswith('//!'):
        print('NO WHY:',f,'does not open with a //! comment'); problems+=1
sys.exit(1 if problems else 0)
