// The gRPC C++ peer of the side-by-side bench (bench/vs_grpc.sh): an echo
// server and a client measuring what bench/rpc_bench measures for fedrpc
// (round trip p50/p99, calls/s with 64 in flight on one channel, calls/s
// from 4 blocking threads, new connection + first call, CPU and context
// switches per call, RSS of idle connections), all with mutual TLS. Built
// only when Debian's libgrpc++-dev and protobuf-compiler-grpc are
// installed; the product and the tests never need it.
//
//   grpc_peer serve PORT CA CERT KEY
//   grpc_peer bench PORT CA CERT KEY [SECONDS]
//   grpc_peer idle PORT CA CERT KEY N      (RSS of N idle channels)
#include <grpcpp/grpcpp.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "echo.grpc.pb.h"

using fedrpc::bench::Echo;
using fedrpc::bench::EchoRequest;
using fedrpc::bench::EchoResponse;

static std::string
slurp(const char *path)
{
	std::ifstream     f(path);
	std::stringstream s;

	s << f.rdbuf();
	return s.str();
}

static double
now_us()
{
	return std::chrono::duration<double, std::micro>(
	    std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}

struct usage {
	double cpu_us; // user + system, this process
	long   cs;     // voluntary + involuntary context switches
};

static usage
usage_now()
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return {ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	        ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec,
	    ru.ru_nvcsw + ru.ru_nivcsw};
}

static long
rss_kb()
{
	std::ifstream f("/proc/self/status");
	std::string   line;

	while (std::getline(f, line))
		if (line.rfind("VmRSS:", 0) == 0)
			return std::stol(line.substr(6));
	return 0;
}

class EchoImpl final : public Echo::Service {
	grpc::Status Echo(grpc::ServerContext *, const EchoRequest *req,
	    EchoResponse *resp) override
	{
		resp->set_payload(req->payload());
		return grpc::Status::OK;
	}
};

static int
serve(int port, const char *ca, const char *cert, const char *key)
{
	grpc::SslServerCredentialsOptions o(
	    GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
	EchoImpl             svc;
	grpc::ServerBuilder  b;

	o.pem_root_certs = slurp(ca);
	o.pem_key_cert_pairs.push_back({slurp(key), slurp(cert)});
	b.AddListeningPort("127.0.0.1:" + std::to_string(port),
	    grpc::SslServerCredentials(o));
	b.RegisterService(&svc);
	std::unique_ptr<grpc::Server> s(b.BuildAndStart());
	if (!s)
		return 1;
	std::printf("ready\n");
	std::fflush(stdout);
	s->Wait();
	return 0;
}

static std::shared_ptr<grpc::Channel>
channel(int port, const char *ca, const char *cert, const char *key,
    bool fresh)
{
	grpc::SslCredentialsOptions o;
	grpc::ChannelArguments      args;

	o.pem_root_certs  = slurp(ca);
	o.pem_private_key = slurp(key);
	o.pem_cert_chain  = slurp(cert);
	args.SetSslTargetNameOverride("b.example");
	if (fresh) // no sharing of a subchannel with an earlier channel
		args.SetInt("grpc.use_local_subchannel_pool", 1);
	return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
	    grpc::SslCredentials(o), args);
}

static bool
call(Echo::Stub *stub, const std::string &payload)
{
	grpc::ClientContext ctx;
	EchoRequest         req;
	EchoResponse        resp;

	ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
	req.set_payload(payload);
	return stub->Echo(&ctx, req, &resp).ok() && resp.payload() == payload;
}

static void
latency(Echo::Stub *stub, size_t size, int n)
{
	std::string         p(size, 'x');
	std::vector<double> t;
	usage               u0, u1;

	for (int i = 0; i < 200; i++)
		call(stub, p);
	u0 = usage_now();
	for (int i = 0; i < n; i++) {
		double a = now_us();

		if (!call(stub, p)) {
			std::fprintf(stderr, "grpc call failed\n");
			std::exit(1);
		}
		t.push_back(now_us() - a);
	}
	u1 = usage_now();
	std::sort(t.begin(), t.end());
	std::printf("latency %zu p50 %.1f p99 %.1f cpu_cli %.1f cs_cli %.1f\n",
	    size, t[t.size() / 2], t[t.size() * 99 / 100],
	    (u1.cpu_us - u0.cpu_us) / n, double(u1.cs - u0.cs) / n);
}

// 64 calls kept in flight on one channel with the async API.
static void
inflight(Echo::Stub *stub, size_t size, double seconds)
{
	struct Call {
		grpc::ClientContext                                 ctx;
		EchoResponse                                        resp;
		grpc::Status                                        st;
		std::unique_ptr<grpc::ClientAsyncResponseReader<EchoResponse>> r;
	};
	grpc::CompletionQueue cq;
	EchoRequest           req;
	long                  done = 0, counted = 0;
	double                start = 0, end;
	usage                 u0 {}, u1;
	auto                  launch = [&]() {
                Call *c = new Call;
                c->r    = stub->AsyncEcho(&c->ctx, req, &cq);
                c->r->Finish(&c->resp, &c->st, c);
	};

	req.set_payload(std::string(size, 'x'));
	for (int i = 0; i < 64; i++)
		launch();
	int outstanding = 64;

	end = 0;
	while (outstanding > 0) {
		void *tag;
		bool  ok;

		if (!cq.Next(&tag, &ok))
			break;
		Call *c = static_cast<Call *>(tag);
		outstanding--;
		if (!c->st.ok()) {
			std::fprintf(stderr, "grpc async call failed: %s\n",
			    c->st.error_message().c_str());
			std::exit(1);
		}
		delete c;
		done++;
		if (start == 0 && done == 2000) { // warmed up
			start = now_us();
			u0    = usage_now();
			end   = start + seconds * 1e6;
		} else if (start != 0 && now_us() < end) {
			counted++;
		}
		if (start == 0 || now_us() < end) {
			launch();
			outstanding++;
		}
	}
	u1 = usage_now();
	double el = (end - start) / 1e6;
	std::printf("inflight %zu calls_s %.0f cpu_cli %.1f cs_cli %.2f\n", size,
	    counted / el, (u1.cpu_us - u0.cpu_us) / counted,
	    double(u1.cs - u0.cs) / counted);
}

static void
threads4(Echo::Stub *stub, size_t size, double seconds)
{
	std::atomic<long>        n {0};
	std::atomic<bool>        stop {false};
	std::vector<std::thread> th;
	std::string              p(size, 'x');
	usage                    u0 = usage_now(), u1;
	double                   t0 = now_us();

	for (int i = 0; i < 4; i++)
		th.emplace_back([&]() {
			while (!stop.load())
				if (call(stub, p))
					n++;
		});
	std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
	stop = true;
	for (auto &t : th)
		t.join();
	u1 = usage_now();
	std::printf("threads4 %zu calls_s %.0f cpu_cli %.1f cs_cli %.2f\n", size,
	    n / ((now_us() - t0) / 1e6), (u1.cpu_us - u0.cpu_us) / n,
	    double(u1.cs - u0.cs) / n);
}

static void
connects(int port, const char *ca, const char *cert, const char *key, int n)
{
	std::vector<double> t;

	for (int i = 0; i < n; i++) {
		double a  = now_us();
		auto   ch = channel(port, ca, cert, key, true);
		auto   st = Echo::NewStub(ch);

		if (!call(st.get(), "hi")) {
			std::fprintf(stderr, "grpc first call failed\n");
			std::exit(1);
		}
		t.push_back(now_us() - a);
	}
	std::sort(t.begin(), t.end());
	std::printf("connect p50 %.0f p99 %.0f\n", t[t.size() / 2],
	    t[t.size() * 99 / 100]);
}

static void
idle(int port, const char *ca, const char *cert, const char *key, int n)
{
	std::vector<std::shared_ptr<grpc::Channel>> chans;
	std::vector<std::unique_ptr<Echo::Stub>>    stubs;
	long                                        before = rss_kb();

	for (int i = 0; i < n; i++) {
		chans.push_back(channel(port, ca, cert, key, true));
		stubs.push_back(Echo::NewStub(chans.back()));
		if (!call(stubs.back().get(), "hi")) {
			std::fprintf(stderr, "grpc idle call failed\n");
			std::exit(1);
		}
	}
	std::printf("idle %d rss_kb %ld\n", n, rss_kb() - before);
}

int
main(int argc, char **argv)
{
	if (argc < 6) {
		std::fprintf(stderr, "usage: grpc_peer serve|bench|idle PORT CA CERT KEY [ARG]\n");
		return 2;
	}
	std::string mode = argv[1];
	int         port = std::atoi(argv[2]);

	if (mode == "serve")
		return serve(port, argv[3], argv[4], argv[5]);
	if (mode == "idle") {
		idle(port, argv[3], argv[4], argv[5], argc > 6 ? std::atoi(argv[6]) : 1000);
		return 0;
	}
	double secs = argc > 6 ? std::atof(argv[6]) : 1.0;
	auto   ch   = channel(port, argv[3], argv[4], argv[5], false);
	auto   stub = Echo::NewStub(ch);

	latency(stub.get(), 64, 2000);
	latency(stub.get(), 1024, 2000);
	inflight(stub.get(), 64, secs);
	inflight(stub.get(), 1024, secs);
	threads4(stub.get(), 64, secs);
	connects(port, argv[3], argv[4], argv[5], 20);
	return 0;
}
