#!/usr/bin/env bash
# Two "machines" on one box: two network namespaces joined by a veth pair,
# and mpirun across them over TCP, so the code path that crosses a network
# (OpenMPI's TCP transport, remote daemons, the NCCL-free CPU all-reduce) runs
# here the way it runs across real nodes. Not part of `make test`: it needs
# root (ip netns) and takes a minute.
#
#   sudo bash dev/mpi_netns.sh            # after `make all data` (train_llama_mpi, data/tinystories)
#
# mpirun runs inside host A and starts rank 1's daemon on host B through an
# "rsh agent" that enters B's namespace instead of ssh-ing to another machine:
# to every MPI process, B is another host reached at 10.77.0.2. The ranks talk
# over TCP only (--mca btl tcp,self: no shared memory between the "hosts").
# It then compares the multi-host run with the same run on one host.
set -euo pipefail
cd "$(dirname "$0")/.."
A=llmcpp_host_a; B=llmcpp_host_b; IP_A=10.77.0.1; IP_B=10.77.0.2
STEPS=${STEPS:-20}
WORK=$(mktemp -d /tmp/mpi_netns.XXXXXX)

cleanup() {
    ip netns del $A 2>/dev/null || true
    ip netns del $B 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -x ./train_llama_mpi ] || { echo "build it first: make train_llama_mpi"; exit 1; }
[ -f data/tinystories/train_000000.bin ] || { echo "prepare the data first: make data"; exit 1; }

echo "== two hosts: $A ($IP_A) and $B ($IP_B), joined by a veth pair"
cleanup; WORK=$(mktemp -d /tmp/mpi_netns.XXXXXX)
ip netns add $A
ip netns add $B
ip link add llm_veth_a type veth peer name llm_veth_b
ip link set llm_veth_a netns $A
ip link set llm_veth_b netns $B
ip -n $A addr add $IP_A/24 dev llm_veth_a
ip -n $B addr add $IP_B/24 dev llm_veth_b
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set llm_veth_a up
ip -n $B link set llm_veth_b up
ip netns exec $A ping -c 1 -W 2 $IP_B > /dev/null && echo "   $A reaches $IP_B"

# The rsh agent: "AGENT HOST COMMAND..." runs COMMAND on HOST, here by
# entering that host's namespace (as ssh would log in to it).
cat > "$WORK/rsh_agent.sh" <<EOF
#!/usr/bin/env bash
host=\$1; shift
case "\$host" in
    $IP_A) ns=$A ;;
    $IP_B) ns=$B ;;
    *) echo "rsh_agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "cd $PWD && \$*"
EOF
chmod +x "$WORK/rsh_agent.sh"
printf '%s slots=1\n%s slots=1\n' $IP_A $IP_B > "$WORK/hostfile"

FLAGS="--model llama-1M -b 8 -t 64 -x $STEPS -v 10 -m 4 -s 0 -g 0 -n $STEPS --seed 5"
MPI="--allow-run-as-root --bind-to none -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=passive"

echo "== 2 ranks on 2 hosts over TCP"
ip netns exec $A mpirun $MPI --hostfile "$WORK/hostfile" -np 2 \
    --mca plm_rsh_agent "$WORK/rsh_agent.sh" --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 \
    --mca oob_tcp_if_include 10.77.0.0/24 \
    ./train_llama_mpi $FLAGS -o "$WORK/two_hosts" 2>&1 | tee "$WORK/two_hosts.txt" | grep -E 'data parallel|step +[0-9]+/|val|communication|done'

if [ -x build/bench_allreduce ]; then
    echo "== the collectives between the 2 hosts (TCP over the veth pair)"
    ip netns exec $A mpirun $MPI --hostfile "$WORK/hostfile" -np 2 \
        --mca plm_rsh_agent "$WORK/rsh_agent.sh" --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 \
        --mca oob_tcp_if_include 10.77.0.0/24 build/bench_allreduce --params 4980000 --reps 10
fi

echo "== 2 ranks on 1 host (shared memory)"
mpirun $MPI --oversubscribe -np 2 ./train_llama_mpi $FLAGS -o "$WORK/one_host" > "$WORK/one_host.txt" 2>&1
grep -E 'communication|done' "$WORK/one_host.txt"

python3 - "$WORK" <<'EOF'
import json, sys
w = sys.argv[1]
def losses(d, key):
    return [json.loads(l)[key] for l in open(f"{w}/{d}/log.jsonl") if key in json.loads(l)]
a, b = losses("two_hosts", "loss"), losses("one_host", "loss")
va, vb = losses("two_hosts", "val_loss"), losses("one_host", "val_loss")
print(f"train losses: {len(a)} steps, identical: {a == b}, worst relative gap {max(abs(x - y) / x for x, y in zip(a, b)):.2e}")
print(f"val losses two hosts {va}, one host {vb}")
ca, cb = open(f"{w}/two_hosts/ckpt_{len(a):06d}.bin", "rb").read(), open(f"{w}/one_host/ckpt_{len(b):06d}.bin", "rb").read()
print(f"final checkpoints identical: {ca == cb}")
EOF
