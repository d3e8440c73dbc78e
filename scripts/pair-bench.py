#!/usr/bin/env python3
"""Paired, alternating runs of two commands; prints median wall and CPU ratios and max RSS."""
import os, sys, time, statistics, json
def run(argv):
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
        os.execvp(argv[0], argv)
    _, status, ru = os.wait4(pid, 0)
    return time.perf_counter() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss
n = int(sys.argv[1]); a, b = json.loads(sys.argv[2]), json.loads(sys.argv[3])
wr, cr, ra, rb, wa, wb = [], [], [], [], [], []
for i in range(n):
    x = run(a); y = run(b)
    wr.append(x[0]/y[0]); cr.append(x[1]/max(y[1],1e-4)); ra.append(x[2]); rb.append(y[2]); wa.append(x[0]); wb.append(y[0])
print(f"pairs={n} median wall A={statistics.median(wa)*1000:.1f}ms B={statistics.median(wb)*1000:.1f}ms "
      f"median wall ratio A/B={statistics.median(wr):.2f} median cpu ratio A/B={statistics.median(cr):.2f} "
      f"maxrss A={max(ra)/1024:.1f}MiB B={max(rb)/1024:.1f}MiB")
