#!/usr/bin/env python3
# Compares the tensors of two GGUF files byte for byte (tensor data between aligned offsets; trailing alignment
# padding ignored). Prints one line per tensor that differs in type or bytes, then "same N diff M".
#   bench/gguf-tensor-diff.py A.gguf B.gguf
import struct,sys
def read(path):
    b=open(path,'rb').read(); o=4
    ver,nt,nkv=struct.unpack_from('<IQQ',b,o); o+=20
    def rs(o):
        n=struct.unpack_from('<Q',b,o)[0]; return b[o+8:o+8+n].decode(), o+8+n
    sz={0:1,1:1,2:2,3:2,4:4,5:4,6:4,7:1,10:8,11:8,12:8}
    def rv(t,o):
        if t==8: return rs(o)
        if t==9:
            at,n=struct.unpack_from('<IQ',b,o); o+=12; out=[]
            for _ in range(n): v,o=rv(at,o); out.append(v)
            return out,o
        return b[o:o+sz[t]], o+sz[t]
    align=32
    for _ in range(nkv):
        k,o=rs(o); t=struct.unpack_from('<I',b,o)[0]; o+=4; v,o=rv(t,o)
        if k=='general.alignment': align=struct.unpack('<I',v)[0]
    ts=[]
    for _ in range(nt):
        n,o=rs(o); nd=struct.unpack_from('<I',b,o)[0]; o+=4
        dims=struct.unpack_from('<%dQ'%nd,b,o); o+=8*nd
        typ,off=struct.unpack_from('<IQ',b,o); o+=12; ts.append((n,dims,typ,off))
    data=(o+align-1)//align*align
    ts.sort(key=lambda t:t[3])
    res={}
    for i,(n,dims,typ,off) in enumerate(ts):
        end=ts[i+1][3] if i+1<len(ts) else len(b)-data
        res[n]=(typ,dims,b[data+off:data+end])
    return res
a=read(sys.argv[1]); c=read(sys.argv[2])
same=diff=0
for n,(t,d,by) in a.items():
    if n not in c: print('missing',n); continue
    t2,d2,by2=c[n]
    if t!=t2: print(n,'types',t,t2); continue
    L=min(len(by),len(by2)); 
    if by[:L].rstrip(b'\0')==by2[:L].rstrip(b'\0') or by[:L]==by2[:L]: same+=1
    else: diff+=1; print('DIFF',n,t)
print('same',same,'diff',diff)
