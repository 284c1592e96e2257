#include "kcpd/health/testing/reflection_client.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>

#include <utility>

#include "gtest/gtest.h"

namespace kcpp::kcpd {
namespace {

void* Tag(intptr_t n) { return reinterpret_cast<void*>(n); }

// Waits for the completion of operation `n`; whether it succeeded.
bool Await(grpc::CompletionQueue* cq, intptr_t n) {
  void* got = nullptr;
  bool ok = false;
  if (!cq->Next(&got, &ok)) return false;
  EXPECT_EQ(got, Tag(n));
  return ok;
}

}  // namespace

ReflectionClient::ReflectionClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)) {
  // Makes sure libgrpc++_reflection is loaded (the linker drops a library
  // nothing calls), so its descriptors are in the generated pool.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

ReflectionClient::Answer ReflectionClient::Ask(const std::string& request_text) {
  Answer answer;
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  const google::protobuf::Descriptor* request_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  const google::protobuf::Descriptor* response_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  if (request_type == nullptr || response_type == nullptr) {
    ADD_FAILURE() << "libgrpc++_reflection's descriptors are not in the process";
    return answer;
  }
  std::unique_ptr<google::protobuf::Message> request(factory_.GetPrototype(request_type)->New());
  std::unique_ptr<google::protobuf::Message> response(
      factory_.GetPrototype(response_type)->New());
  if (!google::protobuf::TextFormat::ParseFromString(request_text, request.get())) {
    ADD_FAILURE() << "bad request text " << request_text;
    return answer;
  }

  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  call->StartCall(Tag(1));
  bool ok = Await(&cq, 1);
  const std::string bytes = request->SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer out(&slice, 1);
  if (ok) {
    call->Write(out, Tag(2));
    ok = Await(&cq, 2);
  }
  if (ok) {
    call->WritesDone(Tag(3));
    ok = Await(&cq, 3);
  }
  grpc::ByteBuffer in;
  bool read = false;
  if (ok) {
    call->Read(&in, Tag(4));
    read = Await(&cq, 4);
  }
  grpc::Status status;
  call->Finish(&status, Tag(5));
  Await(&cq, 5);
  answer.code = status.error_code();
  if (!status.ok() || !read) return answer;
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(in.Dump(&slices).ok());
  std::string received;
  for (const grpc::Slice& s : slices) {
    received.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  EXPECT_TRUE(response->ParseFromString(received));
  google::protobuf::TextFormat::PrintToString(*response, &answer.text);
  return answer;
}

std::vector<std::string> ListedServices(const std::string& answer_text) {
  std::vector<std::string> names;
  const std::string key = "name: \"";
  for (size_t at = answer_text.find(key); at != std::string::npos;
       at = answer_text.find(key, at + 1)) {
    const size_t start = at + key.size();
    names.push_back(answer_text.substr(start, answer_text.find('"', start) - start));
  }
  return names;
}

}  // namespace kcpp::kcpd
