# Host memory while N containers start at once: total PSS of every shim
# and what runs under it, sampled every 0.25 s, runc-v2 vs runm.
#   gnuplot -e "dir='OUT'" tools/bench/many.gp   -> OUT/many-memory.png
if (!exists("dir")) dir = "bench-results"
set terminal pngcairo size 800,500 font "sans,10"
set output dir."/many-memory.png"
set title "Containers started at once: host memory (PSS)"
set xlabel "seconds since the starts"
set ylabel "MiB"
set grid
set key left top
plot dir."/plot/many-runc.dat" using 1:2 with lines lw 2 lc rgb "#1f77b4" title "runc-v2", \
     dir."/plot/many-runm.dat" using 1:2 with lines lw 2 lc rgb "#d62728" title "runm"
