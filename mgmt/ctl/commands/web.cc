// muzzlectl web user add|remove, web users: the web console's local accounts (WebService, admin
// only). The password is read from the terminal without echo (twice), or as one line from stdin
// with --password-stdin (for scripts); it never appears on the command line, where `ps` shows it.
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/web.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

// One line from stdin, echo off when stdin is a terminal.
std::string readSecretLine(const char* prompt) {
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  termios before{};
  if (tty) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &before);
    termios quiet = before;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &before);
    std::cerr << "\n";
  }
  return line;
}

Outcome refuse(const std::string& why) {
  Outcome o;
  o.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
  return o;
}

Outcome addUser(const Call& call, const v1::SetWebUserRequest& req) {
  v1::WebUser r;
  Outcome o = ask(call, &v1::WebService::Stub::SetWebUser, req, &r);
  if (o.status.ok()) o.summary = "web user " + r.name() + " (" + r.role() + ") set";
  return o;
}

Outcome removeUser(const Call& call, const std::string& name) {
  v1::RemoveWebUserRequest req;
  req.set_name(name);
  v1::RemoveWebUserResponse r;
  Outcome o = ask(call, &v1::WebService::Stub::RemoveWebUser, req, &r);
  if (o.status.ok()) o.summary = "web user " + name + " removed; their sessions ended";
  return o;
}

Outcome listUsers(const Call& call) {
  v1::ListWebUsersResponse r;
  Outcome o = ask(call, &v1::WebService::Stub::ListWebUsers, {}, &r);
  if (!o.status.ok()) return o;
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : r.users()) rows.push_back({u.name(), u.role()});
  o.summary = std::to_string(r.users_size()) + " web users";
  o.human = table({"name", "role"}, rows);
  return o;
}

}  // namespace

void addWebCommands(CLI::App& app, Invocation& invocation) {
  auto* web = app.add_subcommand("web", "the web console's accounts (admin)");
  web->require_subcommand(1);
  web->add_subcommand("users", "list the web console's accounts")->callback([&invocation] {
    invocation.command = listUsers;
  });
  auto* user = web->add_subcommand("user", "add or remove a web console account");
  user->require_subcommand(1);

  struct AddArgs {
    std::string name, role = "viewer";
    bool from_stdin = false;
  };
  auto add_args = std::make_shared<AddArgs>();
  auto* add = user->add_subcommand(
      "add", "add an account, or give one a new role and password (its sessions end)");
  add->add_option("name", add_args->name, "the account's name: a-z 0-9 . _ -, up to 32")
      ->required();
  add->add_option("--role", add_args->role, "admin, operator or viewer (default viewer)");
  add->add_flag("--password-stdin", add_args->from_stdin,
                "read the password as one line from stdin (no prompt, no confirmation)");
  add->callback([&invocation, add_args] {
    v1::SetWebUserRequest req;
    req.set_name(add_args->name);
    req.set_role(add_args->role);
    std::string password = readSecretLine("password: ");
    if (!add_args->from_stdin && ::isatty(STDIN_FILENO) != 0 &&
        readSecretLine("again: ") != password) {
      invocation.command = [](const Call&) {
        return refuse("the two passwords differ; nothing was changed");
      };
      return;
    }
    req.set_password(password);
    invocation.command = [req](const Call& call) { return addUser(call, req); };
  });

  auto remove_name = std::make_shared<std::string>();
  auto* remove = user->add_subcommand("remove", "remove an account and end its sessions");
  remove->add_option("name", *remove_name, "the account")->required();
  remove->callback([&invocation, remove_name] {
    invocation.command = [name = *remove_name](const Call& call) { return removeUser(call, name); };
  });
}

}  // namespace muzzle::ctl
