# Where the time goes: stacked bars of per-phase medians, a standalone VM
# boot (guest clock) and a runm cold start (shim timing records), next to
# runc-v2's whole cold start.
#   gnuplot -e "dir='OUT'" tools/bench/timeline.gp   -> OUT/timeline.png
if (!exists("dir")) dir = "bench-results"
ncols = system("cat ".dir."/plot/timeline.ncols") + 0
set terminal pngcairo size 1100,620 font "sans,9"
set output dir."/timeline.png"
set title "Boot and cold start timeline (per-phase medians)"
set ylabel "seconds"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border lc rgb "#ffffff"
set boxwidth 0.6
set key outside right top vertical font ",8" noautotitle
set grid ytics
set xtics font ",9"
set yrange [0:*]
# 5 boot steps (blues), 13 cold-start phases (VM boot in grey, the rest
# varied), runc-v2 (green): one colour each.
colors = "#08306b #2171b5 #6baed6 #9ecae1 #c6dbef " . \
         "#7f3b08 #b35806 #e08214 #fdb863 #969696 #542788 #8073ac #d6604d #b2182b #f4a582 #de77ae #c51b7d #8e0152 " . \
         "#1b9e77"
set arrow 1 from graph 0, first 1.0 to graph 1, first 1.0 nohead dt 2 lc rgb "#2171b5"
set label 1 "boot target 1.0 s" at graph 0.01, first 1.0 offset 0,0.5 font ",8" tc rgb "#2171b5"
set arrow 2 from graph 0, first 2.0 to graph 1, first 2.0 nohead dt 2 lc rgb "#b2182b"
set label 2 "cold start target 2.0 s" at graph 0.01, first 2.0 offset 0,0.5 font ",8" tc rgb "#b2182b"
plot for [i=2:ncols] dir."/plot/timeline.dat" using i:xtic(1) title columnheader(i) lc rgb word(colors, i - 1)
