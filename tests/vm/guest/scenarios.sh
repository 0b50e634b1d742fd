#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Guest side of the VM stage (tests/vm/run-vm.sh builds the image). Runs as
# root from vmtest.service at boot, in a Debian 12 guest with systemd, logind,
# dbus, polkitd, Yama, and reptyrd/reptyrctl installed as a package would.
#
# The user is alice, autologged in on tty1 (a seat0, Active=yes session).
# Her ~/.bash_profile started a tmux server there, so every tmux window of
# hers is a shell in that session; the scenarios type into those windows
# (tmux send-keys) and read the screen (capture-pane), like a person would.
# Targets are started "elsewhere": in tmux servers started from this service
# with runuser, i.e. in no login session and not descendants of alice's shell.
#
# Every check prints "PASS: ..." or "FAIL: ..." (details indented under it)
# on stdout (console, journal) and on /dev/ttyS1 (the host's results.txt);
# the last line there is "VMTEST: N passed, M failed". Then it powers off.
#
# Users and passwords (tests/vm/build-image.sh): alice/alice-pw,
# bob/bob-pw, admin/admin-pw (group sudo: polkit's admin on Debian).
#
# Scenarios (one function each, in this order; Yama 1 unless stated):
#   s_setup               alice's tmux is in her seat0, Active=yes session
#   s_plain_ptrace_fails  her `strace -p` of her own non-descendant: EPERM
#   s_own_yama1_prompt    `reptyrctl adopt` asks her password via pkttyagent,
#                         adopts, I/O flows; the helper is reptyrd.service
#   s_own_yama0_noprompt  Yama 0 + shipped rule: adopted without a prompt
#   s_seatless            a shell in no login session (runuser): polkit's
#                         allow_any (auth_self_keep) applies: exit 75 with
#                         --no-ask-password, else her password; Yama 0: none
#   s_other_user          bob's process: admin password asked; none (75) or
#                         a wrong one (72) leave it untouched; admin's adopts
#   s_admin_rule          a group rule in /etc/polkit-1/rules.d works at once,
#                         and stops working once removed; polkitd not restarted
#   s_yama2 / s_yama3     2: admin password even for her own; 3: refused (72)
#                         with a message naming ptrace_scope (last: 3 sticks)
#   s_journal, s_idle_exit  every outcome logged with caller, target, result;
#                         reptyrd.service stops by itself when idle
set -u
export LC_ALL=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

VICTIM=/usr/local/lib/vmtest/victim
RULE=/etc/polkit-1/rules.d/40-reptyr-vmtest.rules
DEADLINE=$((SECONDS + ${VMTEST_BUDGET:-420}))
passed=0
failed=0
exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo 2>/dev/null || true

# ---- reporting ----------------------------------------------------------
out() {
        echo "$*"
        echo "$*" >&3
}
pass() {
        passed=$((passed + 1))
        out "PASS: $*"
}
fail() {
        failed=$((failed + 1))
        out "FAIL: $*"
}
note() { out "    $*"; }
# check DESCRIPTION COMMAND...: PASS or FAIL on the command's status.
check() {
        local what=$1
        shift
        if "$@"; then pass "$what"; else fail "$what"; fi
}
# The last lines of a screen, indented, for the record.
show() { sed -e '/^[[:space:]]*$/d' -e 's/^/    | /' | tail -n "${1:-12}" | tee /dev/fd/3; }

# ---- alice's terminal (tmux in her seat0 session) -------------------------
atmux() { runuser -u alice -- tmux "$@"; }
# win NAME: a new window (a fresh shell of alice's session) named NAME.
win() { atmux new-window -d -t main: -n "$1"; }
screen() { atmux capture-pane -p -J -S -200 -t "main:$1" 2>/dev/null; }
typ() {
        atmux send-keys -t "main:$1" -l -- "$2" && atmux send-keys -t "main:$1" Enter
}
# wait_screen WIN REGEX [SECONDS]: until the window shows REGEX.
wait_screen() {
        local end=$((SECONDS + ${3:-60}))
        while ((SECONDS < end)); do
                screen "$1" | grep -Eq -- "$2" && return 0
                sleep 0.3
        done
        return 1
}
# rc_of WIN TAG: the status printed by "...; echo RC-TAG=$?".
rc_of() { screen "$1" | sed -n "s/^RC-$2=\([0-9]*\)$/\1/p" | tail -n 1; }

# ---- targets, started elsewhere ------------------------------------------
# start_victim USER NAME: runs the test victim ("GOT <line>" for each line)
# as USER in a tmux server of its own (socket NAME) started from this
# service: no login session, not a descendant of alice's shells. Prints its pid.
# Its parent is a `sleep` that never reaps it, as a script's background job
# (in a session of its own, on the pane's terminal): its exit status must
# then come from its zombie, on this 6.1 kernel too. The sleep ignores
# SIGHUP: once the victim is adopted nothing holds the pane's terminal,
# tmux closes the pane and the kernel hangs up its session; a sleep killed
# then would leave the victim to systemd, which reaps it the moment it
# exits, and its status would be readable only in a race with that reaping.
start_victim() {
        local user=$1 name=$2 pane pid
        runuser -u "$user" -- tmux -L "$name" new-session -d -s "$name" -x 100 -y 30 \
                "exec sh -c 'exec 3<&0; setsid \"\$0\" read <&3 3<&- & trap \"\" HUP; exec sleep 2147483647 </dev/null >/dev/null 2>&1 3<&-' $VICTIM"
        for _ in $(seq 100); do
                pane=$(runuser -u "$user" -- tmux -L "$name" display -p -t "$name" '#{pane_pid}' 2>/dev/null)
                pid=$([[ -n $pane ]] && pgrep -P "$pane" | head -n 1)
                if [[ -n $pid ]] && runuser -u "$user" -- tmux -L "$name" capture-pane -p -t "$name" |
                        grep -q READY; then
                        echo "$pid"
                        return 0
                fi
                sleep 0.2
        done
        echo "start_victim $user $name: no READY" >&2
        echo 0
}
vscreen() { runuser -u "$1" -- tmux -L "$2" capture-pane -p -J -S -200 -t "$2"; }
tty_of() { readlink "/proc/$1/fd/0" 2>/dev/null; }
# ancestry PID: "pid(comm) <- ppid(comm) <- ..." up to pid 1.
ancestry() {
        local p=$1 chain=
        while [[ -n $p && $p != 0 ]]; do
                chain+="$p($(cat "/proc/$p/comm" 2>/dev/null)) "
                [[ $p == 1 ]] && break
                p=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)
        done
        echo "$chain"
}
# untouched PID OLD_TTY USER NAME: still on its old terminal, not traced, not
# stopped, and still answering there.
untouched() {
        local pid=$1 old=$2 user=$3 name=$4 tag=ping-$RANDOM state tracer
        state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        note "pid $pid: fd 0 -> $(tty_of "$pid") (was $old), State $state, TracerPid $tracer"
        [[ $(tty_of "$pid") == "$old" && $state == S && $tracer == 0 ]] || return 1
        runuser -u "$user" -- tmux -L "$name" send-keys -t "$name" -l "$tag"
        runuser -u "$user" -- tmux -L "$name" send-keys -t "$name" Enter
        local end=$((SECONDS + 20))
        while ((SECONDS < end)); do
                vscreen "$user" "$name" | grep -q "GOT $tag" && return 0
                sleep 0.3
        done
        return 1
}

set_yama() {
        echo "$1" >/proc/sys/kernel/yama/ptrace_scope
        note "kernel.yama.ptrace_scope = $(cat /proc/sys/kernel/yama/ptrace_scope)"
}

# ---- the shared adoption flow --------------------------------------------
# adopt_and_use WIN TAG PID OLD [RC]: after "moved here from", input and
# output flow through the new terminal; "quit" ends the target and reptyrctl
# exits RC: 0 (the target's own status, read from it as it exits, on this
# 6.1 kernel too), or 76 for another user's process, whose status the
# kernel shows only to whoever may trace it (Linux < 6.15 keeps no copy).
adopt_and_use() {
        local w=$1 tag=$2 pid=$3 old=$4 want=${5:-0} new
        if ! wait_screen "$w" "moved here from|^RC-$tag=" 60 || ! screen "$w" | grep -q "moved here from"; then
                fail "$tag: $pid adopted (no 'moved here from' on alice's screen)"
                screen "$w" | show
                return 1
        fi
        new=$(tty_of "$pid")
        if [[ $new == /dev/pts/* && $new != "$old" ]]; then
                pass "$tag: $pid adopted: fd 0 $old -> $new"
        else
                fail "$tag: $pid adopted: fd 0 $old -> $new"
        fi
        sleep 1
        typ "$w" "hello-$tag"
        check "$tag: input reaches $pid and its output shows on alice's terminal" \
                wait_screen "$w" "GOT hello-$tag" 30
        typ "$w" "status?"
        if wait_screen "$w" "^TTY $new " 30; then
                pass "$tag: $pid reports its new terminal $new as its own"
        else
                fail "$tag: $pid reports its new terminal $new as its own"
        fi
        typ "$w" quit
        if wait_screen "$w" "^RC-$tag=" 30 && [[ $(rc_of "$w" "$tag") == "$want" ]]; then
                pass "$tag: $pid exited, reptyrctl returned $want"
        else
                fail "$tag: $pid exited, reptyrctl returned $want (got '$(rc_of "$w" "$tag")')"
        fi
        screen "$w" | show 14
}

# ---- scenarios -------------------------------------------------------------

s_setup() {
        local sid=
        for _ in $(seq 240); do
                sid=$(loginctl list-sessions --no-legend 2>/dev/null | awk '$3 == "alice" && $4 == "seat0" {print $1; exit}')
                [[ -n $sid ]] && atmux has-session -t main 2>/dev/null && break
                sleep 0.5
        done
        if [[ -z $sid ]] || ! atmux has-session -t main 2>/dev/null; then
                fail "setup: alice autologged in on tty1 with her tmux"
                loginctl list-sessions --no-legend | show
                return 1
        fi
        local props tpid cg
        props=$(loginctl show-session "$sid" -p Seat -p Active -p Remote -p TTY -p Class | tr '\n' ' ')
        tpid=$(atmux display -p '#{pid}')
        cg=$(cut -d: -f3 "/proc/$tpid/cgroup")
        note "session $sid: $props; alice's tmux server $tpid in $cg"
        if [[ $props == *Seat=seat0* && $props == *Active=yes* && $cg == */session-$sid.scope ]]; then
                pass "setup: alice's tmux runs in her seat0, Active=yes session $sid"
        else
                fail "setup: alice's tmux runs in her seat0, Active=yes session $sid"
        fi
        note "reptyrctl: $(reptyrctl --version 2>&1 | head -n 1); kernel $(uname -r)"
        note "installed: $(ls /usr/libexec/reptyrd /usr/share/dbus-1/system-services/org.reptyr.Reptyr1.service \
                /usr/lib/systemd/system/reptyrd.service /usr/share/polkit-1/actions/org.reptyr.Reptyr1.policy \
                /usr/share/polkit-1/rules.d/50-reptyr.rules 2>&1 | tr '\n' ' ')"
        # The project came in as the Debian packages users get (dpkg -i of the
        # .debs), and installing them neither enabled nor started the helper:
        # D-Bus activation starts it.
        local pkgs enabled active
        pkgs=$(dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' reptyrd reptyrctl 2>&1 | tr '\n' ';')
        enabled=$(systemctl is-enabled reptyrd.service 2>&1 || true)
        active=$(systemctl is-active reptyrd.service 2>&1 || true)
        note "packages: $pkgs unit: $enabled, $active"
        if [[ ";$pkgs" == *";reptyrd "*" ii ;"* && ";$pkgs" == *";reptyrctl "*" ii ;"* && $enabled == static && $active == inactive ]]; then
                pass "setup: reptyrd and reptyrctl installed from their .debs; reptyrd.service static, not started"
        else
                fail "setup: reptyrd and reptyrctl installed from their .debs; reptyrd.service static, not started"
        fi
}

s_plain_ptrace_fails() {
        set_yama 1
        V1=$(start_victim alice alice-v1)
        V1_TTY=$(tty_of "$V1")
        note "alice's victim $V1 on $V1_TTY; its ancestors: $(ancestry "$V1")"
        win strace
        typ strace "strace -e trace=none -p $V1; echo RC-strace=\$?"
        wait_screen strace "^RC-strace=" 30
        screen strace | show 4
        if screen strace | grep -q "Operation not permitted" && [[ $(rc_of strace strace) != 0 ]]; then
                pass "yama1: alice's plain 'strace -p $V1' fails with EPERM"
        else
                fail "yama1: alice's plain 'strace -p $V1' fails with EPERM"
        fi
}

# While the helper is serving an adoption: it runs as reptyrd.service, the
# unit the D-Bus activation file names, with its sandbox.
check_unit() {
        local main owner st
        main=$(systemctl show reptyrd.service -p MainPID --value)
        owner=$(busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                GetConnectionUnixProcessID s org.reptyr.Reptyr1 2>/dev/null | awk '{print $2}')
        note "$(systemctl show reptyrd.service -p ActiveState -p SubState -p Type -p MainPID -p FragmentPath | tr '\n' ' ')"
        note "org.reptyr.Reptyr1 owned by pid ${owner:-none}; $(grep -E '^(NoNewPrivs|Seccomp|CapEff):' "/proc/$main/status" 2>/dev/null | tr -s '\t\n' '  ')"
        st=$(grep -E '^(NoNewPrivs|Seccomp):' "/proc/$main/status" 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
        if [[ $main != 0 && $main == "$owner" && $st == "1 2 " ]]; then
                pass "unit: the helper is reptyrd.service's main process (NoNewPrivs, seccomp filter on)"
        else
                fail "unit: the helper is reptyrd.service's main process (NoNewPrivs, seccomp filter on)"
        fi
}

s_own_yama1_prompt() {
        set_yama 1
        win own1
        typ own1 "reptyrctl adopt $V1; echo RC-own1=\$?"
        if wait_screen own1 "Password:|^RC-own1=" 60 && screen own1 | grep -q "Password:"; then
                screen own1 | show 6
                if screen own1 | grep -q "org.reptyr.Reptyr1.adopt " &&
                        screen own1 | grep -Eq "Authenticating as: .*alice"; then
                        pass "own1: pkttyagent asks for alice's own password (org.reptyr.Reptyr1.adopt)"
                else
                        fail "own1: pkttyagent asks for alice's own password (org.reptyr.Reptyr1.adopt)"
                fi
        else
                fail "own1: pkttyagent prompts on alice's terminal"
                screen own1 | show
                return
        fi
        typ own1 "alice-pw"
        if wait_screen own1 "moved here from|^RC-own1=" 60; then
                check_unit
        fi
        adopt_and_use own1 own1 "$V1" "$V1_TTY"
}

s_own_yama0_noprompt() {
        set_yama 0
        V2=$(start_victim alice alice-v2)
        local old
        old=$(tty_of "$V2")
        win own0
        typ own0 "reptyrctl adopt $V2; echo RC-own0=\$?"
        adopt_and_use own0 own0 "$V2" "$old"
        if screen own0 | grep -Eq "Password:|AUTHENTICATING"; then
                fail "own0: Yama 0 and the shipped rule: no password prompt"
        else
                pass "own0: Yama 0 and the shipped rule: no password prompt"
        fi
}

# A terminal outside any login session, as after `ssh` without pam_systemd,
# `runuser` or `su` from a service: alice's shell in a tmux started by root
# with runuser. polkit sees no session (allow_any applies: auth_self_keep).
s_seatless() {
        set_yama 1
        local v old
        v=$(start_victim alice alice-v3)
        old=$(tty_of "$v")
        runuser -u alice -- tmux -L seatless new-session -d -s seatless -x 120 -y 40
        local sh
        sh=$(runuser -u alice -- tmux -L seatless display -p -t seatless '#{pane_pid}')
        note "seatless shell $sh in $(cut -d: -f3 "/proc/$sh/cgroup"); loginctl: $(loginctl session-status "$sh" 2>&1 | head -n 1)"
        sl() { runuser -u alice -- tmux -L seatless "$@"; }
        slscreen() { sl capture-pane -p -J -S -200 -t seatless; }
        slwait() {
                local end=$((SECONDS + ${2:-60}))
                while ((SECONDS < end)); do
                        slscreen | grep -Eq -- "$1" && return 0
                        sleep 0.3
                done
                return 1
        }
        sltyp() { sl send-keys -t seatless -l -- "$1" && sl send-keys -t seatless Enter; }

        sltyp "reptyrctl adopt --no-ask-password $v; echo RC-sl1=\$?"
        slwait "^RC-sl1=" 60
        slscreen | show 3
        local rc
        rc=$(slscreen | sed -n 's/^RC-sl1=//p' | tail -n 1)
        if [[ $rc == 75 ]] && untouched "$v" "$old" alice alice-v3; then
                pass "seatless: --no-ask-password -> exit 75 (authentication required), target untouched"
        else
                fail "seatless: --no-ask-password -> exit 75 (authentication required), target untouched (got '$rc')"
        fi

        sltyp "reptyrctl adopt $v; echo RC-sl2=\$?"
        if slwait "Password:|^RC-sl2=" 60 && slscreen | grep -Eq "Authenticating as: .*alice"; then
                pass "seatless: pkttyagent asks for alice's own password"
                sltyp "alice-pw"
                if slwait "moved here from|^RC-sl2=" 60 && slscreen | grep -q "moved here from"; then
                        pass "seatless: adopted after alice's password"
                        sleep 1
                        sltyp "hello-sl"
                        check "seatless: input and output flow" slwait "GOT hello-sl" 30
                        sltyp quit
                        slwait "^RC-sl2=" 30
                else
                        fail "seatless: adopted after alice's password"
                fi
        else
                fail "seatless: pkttyagent asks for alice's own password"
        fi
        slscreen | show 8

        set_yama 0
        v=$(start_victim alice alice-v4)
        sltyp "reptyrctl adopt $v; echo RC-sl3=\$?"
        if slwait "moved here from|^RC-sl3=" 60 && slscreen | grep -q "moved here from" &&
                ! slscreen | tail -n 5 | grep -q "Password:"; then
                pass "seatless: Yama 0 and the shipped rule: adopted without a prompt"
                sleep 1
                sltyp quit
                slwait "^RC-sl3=" 30
        else
                fail "seatless: Yama 0 and the shipped rule: adopted without a prompt"
        fi
        slscreen | show 4
        set_yama 1
}

s_other_user() {
        set_yama 1
        B1=$(start_victim bob bob-v1)
        local old rc
        old=$(tty_of "$B1")
        note "bob's victim $B1 on $old"

        win bobno
        typ bobno "reptyrctl adopt --no-ask-password $B1; echo RC-bobno=\$?"
        wait_screen bobno "^RC-bobno=" 60
        screen bobno | show 3
        rc=$(rc_of bobno bobno)
        if [[ $rc == 75 ]] && ! screen bobno | grep -q "Password:" && untouched "$B1" "$old" bob bob-v1; then
                pass "bob: no password (--no-ask-password) -> exit 75, bob's process untouched"
        else
                fail "bob: no password (--no-ask-password) -> exit 75, bob's process untouched (got '$rc')"
        fi

        win bobbad
        typ bobbad "reptyrctl adopt $B1; echo RC-bobbad=\$?"
        if wait_screen bobbad "Password:|^RC-bobbad=" 60 && screen bobbad | grep -q "org.reptyr.Reptyr1.adopt-any" &&
                screen bobbad | grep -Eq "Authenticating as: .*admin"; then
                pass "bob: pkttyagent asks for the admin's password (org.reptyr.Reptyr1.adopt-any)"
        else
                fail "bob: pkttyagent asks for the admin's password (org.reptyr.Reptyr1.adopt-any)"
        fi
        typ bobbad "wrong-pw"
        # Should the agent offer another try, every prompt gets a wrong answer.
        local typed=1 end=$((SECONDS + 60))
        while ((SECONDS < end)) && ! screen bobbad | grep -q "^RC-bobbad="; do
                if (($(screen bobbad | grep -c "Password:") > typed && typed < 3)); then
                        typ bobbad "wrong-pw"
                        typed=$((typed + 1))
                fi
                sleep 0.5
        done
        note "prompts answered wrongly: $typed"
        screen bobbad | show 6
        rc=$(rc_of bobbad bobbad)
        if [[ $rc == 72 ]] && untouched "$B1" "$old" bob bob-v1; then
                pass "bob: wrong admin password -> refused (exit 72), bob's process untouched"
        else
                fail "bob: wrong admin password -> refused (exit 72), bob's process untouched (got '$rc')"
        fi

        win bobok
        typ bobok "reptyrctl adopt $B1; echo RC-bobok=\$?"
        if wait_screen bobok "Password:|^RC-bobok=" 60 && screen bobok | grep -q "Password:"; then
                typ bobok "admin-pw"
        else
                fail "bob: a prompt for the admin's password"
                screen bobok | show 6
                return
        fi
        adopt_and_use bobok bobok "$B1" "$old" 76
}

s_admin_rule() {
        set_yama 1
        local b old pk0 pk1 rc
        b=$(start_victim bob bob-v2)
        old=$(tty_of "$b")
        groupadd -f reptyr-adopters
        usermod -aG reptyr-adopters alice
        pk0=$(systemctl show polkit.service -p MainPID --value)
        cat >"$RULE" <<'EOF'
// vmtest: members of reptyr-adopters may adopt any process without a password.
polkit.addRule(function(action, subject) {
    if ((action.id === "org.reptyr.Reptyr1.adopt" ||
         action.id === "org.reptyr.Reptyr1.adopt-any") &&
        subject.isInGroup("reptyr-adopters"))
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
EOF
        chmod 644 "$RULE"
        sleep 2 # polkitd re-reads rules.d on inotify
        win rule
        typ rule "reptyrctl adopt $b; echo RC-rule=\$?"
        adopt_and_use rule rule "$b" "$old" 76
        if screen rule | grep -q "Password:"; then
                fail "rule: group rule in /etc/polkit-1/rules.d: bob's process adopted without a prompt"
        else
                pass "rule: group rule in /etc/polkit-1/rules.d: bob's process adopted without a prompt"
        fi
        rm -f "$RULE"
        sleep 2
        b=$(start_victim bob bob-v3)
        typ rule "reptyrctl adopt --no-ask-password $b; echo RC-rule2=\$?"
        wait_screen rule "^RC-rule2=" 60
        rc=$(rc_of rule rule2)
        pk1=$(systemctl show polkit.service -p MainPID --value)
        note "polkitd pid $pk0 before, $pk1 after"
        if [[ $rc == 75 && $pk0 == "$pk1" ]]; then
                pass "rule: removing the rule takes effect too (exit 75), polkitd never restarted"
        else
                fail "rule: removing the rule takes effect too (exit 75), polkitd never restarted (got '$rc')"
        fi
        gpasswd -d alice reptyr-adopters >/dev/null
}

s_yama2() {
        set_yama 2
        local v old
        v=$(start_victim alice alice-v5)
        old=$(tty_of "$v")
        win y2
        typ y2 "reptyrctl adopt $v; echo RC-y2=\$?"
        if wait_screen y2 "Password:|^RC-y2=" 60 && screen y2 | grep -q "org.reptyr.Reptyr1.adopt-any" &&
                screen y2 | grep -Eq "Authenticating as: .*admin"; then
                pass "yama2: alice's own process needs the admin's password (adopt-any)"
        else
                fail "yama2: alice's own process needs the admin's password (adopt-any)"
        fi
        screen y2 | show 5
        typ y2 "admin-pw"
        adopt_and_use y2 y2 "$v" "$old"
}

s_yama3() {
        set_yama 3
        local rc old
        Y3=$(start_victim alice alice-v6)
        old=$(tty_of "$Y3")
        win y3
        typ y3 "reptyrctl adopt $Y3; echo RC-y3=\$?"
        wait_screen y3 "^RC-y3=" 60
        screen y3 | show 4
        rc=$(rc_of y3 y3)
        if [[ $rc == 72 ]] && ! screen y3 | grep -q "Password:" &&
                screen y3 | grep -Eiq "ptrace_scope|yama"; then
                pass "yama3: refused without a prompt (exit 72), the message says why"
        else
                fail "yama3: refused without a prompt (exit 72), the message says why (got '$rc')"
        fi
        check "yama3: alice's process untouched" untouched "$Y3" "$old" alice alice-v6
}

# The journal has every adoption and refusal with caller, target, outcome.
s_journal() {
        local j
        j=$(journalctl -u reptyrd.service -o cat --no-pager 2>/dev/null)
        grep -E 'caller|Started|Deactivated' <<<"$j" | show 40
        jcheck() {
                local what=$1
                shift
                local lines=$j p
                for p in "$@"; do
                        lines=$(grep -F -- "$p" <<<"$lines")
                done
                if [[ -n $lines ]]; then pass "journal: $what"; else fail "journal: $what"; fi
        }
        jcheck "alice's adoption of her $V1 under Yama 1 (caller, target, outcome)" \
                "caller uid=1000" "target pid=$V1 uid=1000" "adopted"
        jcheck "the refusal of bob's $B1 without a password" \
                "caller uid=1000" "target pid=$B1 uid=1001" "refused: " "needs authentication"
        jcheck "the refusal of bob's $B1 (wrong admin password)" \
                "caller uid=1000" "target pid=$B1 uid=1001" "refused: not authorized"
        jcheck "the admin-authorized adoption of bob's $B1" \
                "caller uid=1000" "target pid=$B1 uid=1001" "adopted"
        jcheck "the Yama 3 refusal of $Y3" "caller uid=1000" "target pid=$Y3" "refused"
}

s_idle_exit() {
        local end=$((SECONDS + 90)) st
        while ((SECONDS < end)); do
                st=$(systemctl show reptyrd.service -p ActiveState --value)
                [[ $st == inactive ]] && break
                sleep 1
        done
        note "$(systemctl show reptyrd.service -p ActiveState -p Result -p ExecMainStatus -p NRestarts | tr '\n' ' ')"
        local starts stops
        starts=$(journalctl -u reptyrd.service -o cat --no-pager | grep -c '^Started ')
        stops=$(journalctl -u reptyrd.service -o cat --no-pager | grep -c 'Deactivated successfully')
        note "journal: reptyrd.service started $starts times, deactivated successfully $stops times"
        if [[ $st == inactive && $(systemctl show reptyrd.service -p Result --value) == success ]] && ((starts >= 1 && stops >= 1)); then
                pass "idle: reptyrd.service exited by itself when idle (Result=success)"
        else
                fail "idle: reptyrd.service exited by itself when idle (Result=success)"
        fi
}

run() {
        if ((SECONDS > DEADLINE)); then
                fail "$1: not run, out of time"
                return
        fi
        out "---- $1 ($((SECONDS))s)"
        "$@"
}

main() {
        out "VMTEST: scenarios start ($(uname -r))"
        V1=0 V1_TTY="" B1=0 Y3=0
        if run s_setup; then
                run s_plain_ptrace_fails
                run s_own_yama1_prompt
                run s_own_yama0_noprompt
                run s_seatless
                run s_other_user
                run s_admin_rule
                run s_yama2
                run s_yama3 # last: Yama 3 cannot be lowered again
                run s_journal
                run s_idle_exit
        fi
        if ((failed > 0)); then
                # For the host's console dump, not the results.
                echo "---- journal of reptyrd and polkit ----"
                journalctl -b -u reptyrd -u polkit -o short-monotonic --no-pager | tail -n 80
        fi
        out "VMTEST: $passed passed, $failed failed"
        sync
        sleep 0.5
        systemctl poweroff --force --force
}

main
