/* Unit tests for guest/init/cgroup_stats.c: cgroup v2 files read into the Stats
 * response (cgroup_stats.c compiled in), on a fake cgroup directory. */
#include "../../guest/init/cgroup_stats.c"

#include <sys/stat.h>

#include "tap.h"

static char dir[64];

static void put(const char *name, const char *text)
{
  char path[200];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static void test_key_value(void)
{
  uint64_t v = 7;
  const char *ev = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
  ok(key_value(ev, "oom", &v) && v == 3, "key read");
  ok(key_value(ev, "oom_kill", &v) && v == 2, "a key that another key starts with is read whole");
  ok(key_value(ev, "max", &v) && v == 12, "key in the middle");
  v = 7;
  ok(!key_value(ev, "oom_g", &v) && v == 7, "a key prefix is not a key; out untouched");
  ok(!key_value("", "oom", &v), "empty file: no key");
  ok(key_value("last 9", "last", &v) && v == 9, "last line without a newline");
}

static void test_stats(void)
{
  Runm__V1__StatsResponse st = RUNM__V1__STATS_RESPONSE__INIT;
  runm_error_t err = NULL;
  char cg[4200];

  snprintf(dir, sizeof(dir), "/tmp/runm-test-stats.XXXXXX");
  if (!mkdtemp(dir)) {
    ok(0, "mkdtemp");
    return;
  }
  put("cpu.stat", "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 5\nnr_throttled 1\n"
                  "throttled_usec 77\n");
  put("memory.current", "4096\n");
  put("memory.max", "max\n");
  put("memory.stat", "anon 100\nfile 200\nkernel_stack 16384\nanon_thp 0\n");
  put("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  put("pids.current", "3\n");
  put("pids.max", "64\n");
  put("io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
                 "8:16 rbytes=1000 wbytes=2000 rios=10 wios=20 dbytes=0 dios=0\n");

  is_int(cgroup_stats(dir, &st, &err), 0, "a cgroup's stats read");
  ok(st.cpu_usage_usec == 1000 && st.cpu_user_usec == 600 && st.cpu_system_usec == 400 &&
         st.cpu_nr_periods == 5 && st.cpu_nr_throttled == 1 && st.cpu_throttled_usec == 77,
     "cpu.stat fields");
  is_int(st.memory_current, 4096, "memory.current");
  is_int(st.memory_max, 0, "memory.max `max` is reported as 0 (no limit)");
  ok(st.memory_anon == 100 && st.memory_file == 200, "memory.stat anon and file (not anon_thp)");
  ok(st.memory_events_max == 4 && st.memory_events_oom == 1 && st.memory_events_oom_kill == 1,
     "memory.events counters");
  ok(st.pids_current == 3 && st.pids_max == 64, "pids.current and pids.max");
  ok(st.io_rbytes == 1100 && st.io_wbytes == 2200 && st.io_rios == 11 && st.io_wios == 22,
     "io.stat summed over devices");
  is_int(st.memory_swap_current, 0, "an absent file leaves 0");

  uint64_t v = 0;
  ok(cgroup_read_key(dir, "memory.events", "oom_kill", &v) && v == 1, "cgroup_read_key reads one key");
  ok(!cgroup_read_key(dir, "no.such.file", "oom", &v), "cgroup_read_key: a missing file is false");

  /* A symlink in place of a cgroup file is not followed (O_NOFOLLOW). */
  char link[200];
  snprintf(link, sizeof(link), "%s/pids.current", dir);
  unlink(link);
  if (symlink("/proc/self/stat", link) == 0) {
    Runm__V1__StatsResponse st2 = RUNM__V1__STATS_RESPONSE__INIT;
    is_int(cgroup_stats(dir, &st2, &err), 0, "stats with a symlinked file still read");
    is_int(st2.pids_current, 0, "a symlinked cgroup file is not followed");
  }

  Runm__V1__StatsResponse st3 = RUNM__V1__STATS_RESPONSE__INIT;
  ok(cgroup_stats("", &st3, &err) < 0, "an unknown cgroup is an error");
  runm_error_release(&err);
  snprintf(cg, sizeof(cg), "%s/gone", dir);
  ok(cgroup_stats(cg, &st3, &err) < 0, "a missing cgroup directory is an error");
  runm_error_release(&err);

  if (cgroup_of_pid(getpid(), cg, sizeof(cg), &err) == 0)
    ok(strncmp(cg, "/sys/fs/cgroup/", 15) == 0 && !strstr(cg, "/.."), "cgroup_of_pid: this process's v2 cgroup");
  else
    ok(1, "cgroup_of_pid: # SKIP no cgroup v2 on this host");
  runm_error_release(&err);
  ok(cgroup_of_pid(0x7ffffff0, cg, sizeof(cg), &err) < 0, "cgroup_of_pid of no process is an error");
  runm_error_release(&err);

  /* State's "paused" (control.c): the freezer file, as runc reads it. */
  ok(!cgroup_frozen(""), "frozen: an unknown cgroup is not frozen");
  put("cgroup.freeze", "0\n");
  ok(!cgroup_frozen(dir), "frozen: cgroup.freeze 0 is not frozen");
  put("cgroup.freeze", "1\n");
  ok(cgroup_frozen(dir), "frozen: cgroup.freeze 1 is frozen");
  ok(!cgroup_frozen("/nonexistent-cgroup"), "frozen: a missing cgroup is not frozen");

  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) printf("# could not remove %s\n", dir);
}

int main(void)
{
  test_key_value();
  test_stats();
  return tap_done();
}
