# Cold start distribution, runc-v2 vs runm (and runm warm when measured):
# a box per runtime (quartiles, whiskers 1.5 IQR) over every run's point.
#   gnuplot -e "dir='OUT'" tools/bench/cold.gp   -> OUT/cold-start.png
if (!exists("dir")) dir = "bench-results"
set terminal pngcairo size 800,560 font "sans,10"
set output dir."/cold-start.png"
set title "Cold start: ctr run --rm busybox /bin/true"
set ylabel "seconds (log scale)"
set logscale y
set grid ytics mytics
set style fill solid 0.25 border
set style boxplot nooutliers
set boxwidth 0.5
set key off
set pointsize 0.7
warm = dir."/plot/warm-runm.dat"
have_warm = system("test -s ".warm." && echo 1 || echo 0") + 0
if (have_warm) {
  set xtics ("runc-v2" 1, "runm" 2, "runm warm" 3)
  set xrange [0.4:3.6]
} else {
  set xtics ("runc-v2" 1, "runm" 2)
  set xrange [0.4:2.6]
}
set arrow 1 from graph 0, first 2.0 to graph 1, first 2.0 nohead dt 2 lc rgb "#d62728"
set label 1 "cold target 2.0 s" at graph 0.01, first 2.0 offset 0,0.6 font ",9" tc rgb "#d62728"
set arrow 2 from graph 0, first 1.0 to graph 1, first 1.0 nohead dt 2 lc rgb "#2ca02c"
set label 2 "warm target 1.0 s" at graph 0.01, first 1.0 offset 0,0.6 font ",9" tc rgb "#2ca02c"
if (have_warm) {
  plot dir."/plot/cold-runc.dat" using (1):1 with boxplot lc rgb "#1f77b4", \
       ''                        using (1 + 0.25 * (rand(0) - 0.5)):1 with points pt 7 lc rgb "#1f77b4", \
       dir."/plot/cold-runm.dat" using (2):1 with boxplot lc rgb "#d62728", \
       ''                        using (2 + 0.25 * (rand(0) - 0.5)):1 with points pt 7 lc rgb "#d62728", \
       warm                      using (3):1 with boxplot lc rgb "#2ca02c", \
       ''                        using (3 + 0.25 * (rand(0) - 0.5)):1 with points pt 7 lc rgb "#2ca02c"
} else {
  plot dir."/plot/cold-runc.dat" using (1):1 with boxplot lc rgb "#1f77b4", \
       ''                        using (1 + 0.25 * (rand(0) - 0.5)):1 with points pt 7 lc rgb "#1f77b4", \
       dir."/plot/cold-runm.dat" using (2):1 with boxplot lc rgb "#d62728", \
       ''                        using (2 + 0.25 * (rand(0) - 0.5)):1 with points pt 7 lc rgb "#d62728"
}
